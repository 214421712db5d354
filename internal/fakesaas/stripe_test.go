package fakesaas_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

func TestStripeGetEventAnswersLikeStripe(t *testing.T) {
	t.Parallel()
	created := time.Unix(1712345678, 0)
	tests := []struct {
		name       string
		key        string
		id         string
		wantStatus int
		wantCode   string
	}{
		{"a test key reads a test-mode event", fakesaas.StripeKey, "evt_test", 200, ""},
		{"a live key reads a live-mode event", fakesaas.StripeLiveKey, "evt_live", 200, ""},
		{"a live key does not see a test-mode event", fakesaas.StripeLiveKey, "evt_test", 404, "resource_missing"},
		{"an unknown id is resource_missing", fakesaas.StripeKey, "evt_nope", 404, "resource_missing"},
		{"a wrong key is 401", "sk_test_wrongwrongwrong", "evt_test", 401, ""},
		{"no key is 401", "", "evt_test", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t)
			srv.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_test", fakesaas.Payment{
				Customer: "cus_1", Email: "a@example.com", Amount: 1999, Currency: "eur", Created: created,
			}))
			srv.AddStripeEvent(fakesaas.PaymentIntentSucceeded("evt_live", fakesaas.Payment{Amount: 500, Currency: "usd", Livemode: true}))
			c := call{method: "GET", url: srv.StripeAPIURL() + "/v1/events/" + tt.id}
			if tt.key != "" {
				c.header = map[string]string{"Authorization": "Bearer " + tt.key}
			}
			status, h, body := mustDo(t, c)
			require.Equal(t, tt.wantStatus, status, string(body))
			assert.NotEmpty(t, h.Get("Request-Id"))
			got := decode(t, body)
			if status != 200 {
				e := got["error"].(map[string]any)
				assert.Equal(t, "invalid_request_error", e["type"])
				if tt.wantCode != "" {
					assert.Equal(t, tt.wantCode, e["code"])
				}
				if tt.key != "" {
					assert.NotContains(t, string(body), tt.key, "the key is never echoed whole")
				}
				return
			}
			assert.Equal(t, tt.id, got["id"])
			assert.Equal(t, "event", got["object"])
			assert.Equal(t, fakesaas.StripeAPIVersion, got["api_version"])
			obj := got["data"].(map[string]any)["object"].(map[string]any)
			assert.Equal(t, got["livemode"], obj["livemode"])
		})
	}
}

func TestStripeEventBuildersHaveStripesShapes(t *testing.T) {
	t.Parallel()
	created := time.Unix(1712345678, 0)
	cs := decode(t, fakesaas.CheckoutSessionCompleted("evt_1", fakesaas.Payment{
		Customer: "cus_1", Email: "a@example.com", Amount: 1999, Currency: "eur", Created: created,
	}).JSON())
	assert.EqualValues(t, created.Unix(), cs["created"])
	obj := cs["data"].(map[string]any)["object"].(map[string]any)
	assert.Equal(t, "cs_test_1", obj["id"])
	assert.Equal(t, "checkout.session", obj["object"])
	assert.EqualValues(t, 1999, obj["amount_total"])
	assert.Equal(t, "a@example.com", obj["customer_details"].(map[string]any)["email"])

	pi := decode(t, fakesaas.PaymentIntentSucceeded("evt_2", fakesaas.Payment{Email: "b@example.com", Amount: 500, Currency: "usd"}).JSON())
	obj = pi["data"].(map[string]any)["object"].(map[string]any)
	assert.Equal(t, "pi_2", obj["id"])
	assert.Nil(t, obj["customer"], "no customer is null, not an empty string")
	assert.Equal(t, "b@example.com", obj["receipt_email"])
}

func TestStripeAddEventJSONNeedsAnID(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	require.Error(t, srv.AddStripeEventJSON([]byte(`{"object":"event"}`)))
	require.Error(t, srv.AddStripeEventJSON([]byte(`not json`)))
	require.NoError(t, srv.AddStripeEventJSON([]byte(`{"id":"evt_raw","type":"x"}`)))
	status, _, body := mustDo(t, call{method: "GET", url: srv.StripeAPIURL() + "/v1/events/evt_raw",
		header: map[string]string{"Authorization": "Bearer " + fakesaas.StripeKey}})
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"id":"evt_raw","type":"x"}`, string(body), "served byte for byte")
}
