package webhook

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// README (Webhooks, Deduplicated): a verified delivery is answered 400 only
// when it has no usable id or event type; identifyStripe says "only the id
// and type must be usable; the rest is the worker's to judge". A "data"
// that is not an object (what data.object is read from) still refuses the
// delivery, as related_object did before today's fix.
func TestAStripeEventWithAnOddDataIsNotRefused(t *testing.T) {
	t.Parallel()
	for _, data := range []string{`"x"`, `[]`, `1`} {
		t.Run(data, func(t *testing.T) {
			t.Parallel()
			body := []byte(`{"id":"evt_1","object":"v2.core.event","type":"v2.core.account.updated","data":` + data +
				`,"related_object":{"id":"acct_1","type":"v2.core.account"}}`)
			id, err := identifyStripe(body, http.Header{})
			assert.NoError(t, err, "a verified Stripe event with a usable id and type was refused for its data")
			assert.Equal(t, "acct_1", id.d.Target)
		})
	}
}
