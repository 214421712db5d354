package webhook

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// related_object (found in review)
// only decides a thin event's target. identifyStripe's contract is that "only
// the id and type must be usable; the rest is the worker's to judge", and
// before related_object was read such a delivery was stored (202). A
// related_object that is not an object with a string id (a string, an id of
// another type, an array) must leave no target, not turn a verified delivery
// into a 400 that Stripe retries for days before disabling the endpoint.
func TestAStripeEventWithAnOddRelatedObjectKeepsNoTargetAndIsNotRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, related, target string }{
		{"null", `null`, ""},
		{"a string", `"acct_1"`, ""},
		{"an id that is a number", `{"id":123,"type":"v2.core.account"}`, ""},
		{"an array", `[{"id":"acct_1"}]`, ""},
		{"a snapshot event that also has one", `"acct_1"`, "pi_1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := ""
			if tt.target == "pi_1" {
				data = `"data":{"object":{"id":"pi_1"}},`
			}
			body := []byte(`{"id":"evt_1","object":"event","type":"v2.core.account[requirements].updated",` + data +
				`"related_object":` + tt.related + `}`)
			id, err := identifyStripe(body, http.Header{})
			require.NoError(t, err, "a verified Stripe event with a usable id and type was refused for its related_object")
			assert.Equal(t, tt.target, id.d.Target)
		})
	}
}

// Through the receiver: the refusal is a 400 to Stripe.
func TestAStripeEventWithAnOddRelatedObjectIsStored(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{"id":"evt_odd_related","object":"event","type":"payment_intent.succeeded",` +
		`"data":{"object":{"id":"pi_1","object":"payment_intent"}},"related_object":"pi_1"}`)
	code, out := do(t, stripeRequest(t, b.url, body))
	require.Equal(t, http.StatusAccepted, code, "a verified Stripe event was refused: %s", out)
}
