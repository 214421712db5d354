package stripe_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

// Stripe answers a key it does not know with 401 "Invalid API Key provided:
// sk_test_****wxyz". The agent (and the operator reading the audit log) must
// be told which setting to fix: the error names STRIPE_SECRET_KEY. And no
// part of the value may reach a tool error or the audit log, not even the
// last four characters Stripe quotes, whatever the value's shape (a whsec_
// signing secret put there by mistake; found in review).
func TestARejectedKeyErrorNamesSTRIPE_SECRET_KEYAndQuotesNoPartOfIt(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"sk_test_reviewNotTheKey42wxyz", "whsec_reviewNotTheKey42wxyz"} {
		t.Run(key[:strings.IndexByte(key, '_')], func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New()
			t.Cleanup(srv.Close)
			srv.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_test", fakesaas.Payment{Amount: 1, Currency: "eur"}))
			_, err := newClient(srv, key).GetEvent(t.Context(), "evt_test")
			require.Error(t, err)
			assert.Contains(t, err.Error(), config.StripeSecretKey, "a 401 must say which variable holds the rejected key")
			assert.NotContains(t, err.Error(), "wxyz", "the key's last four characters, as Stripe quotes them")
		})
	}
}

// Stripe answers a request it wants repeated (a lock timeout on the object)
// with Stripe-Should-Retry: true, whatever the status; stripe-go retries it,
// but the client turns stripe-go's retries off, so the transport must.
func TestAGetAnsweredStripeShouldRetryTrueIsRetried(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	srv.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_test", fakesaas.Payment{Amount: 7, Currency: "eur"}))
	srv.Inject(fakesaas.Fault{Path: "/v1/", Times: 1, Status: http.StatusConflict,
		Header: http.Header{"Stripe-Should-Retry": {"true"}},
		Body:   `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"This object cannot be accessed right now because another API request or Stripe process is currently accessing it."}}`})
	hc := &http.Client{Transport: httpx.New(httpx.Options{Provider: "stripe", BaseDelay: time.Millisecond, MaxWait: 10 * time.Millisecond})}
	c := stripe.New(stripe.Config{BaseURL: srv.StripeAPIURL(), Key: config.NewSecret(fakesaas.StripeKey), HTTPClient: hc})
	ev, err := c.GetEvent(t.Context(), "evt_test")
	require.NoError(t, err, "a GET Stripe asked to repeat is repeated")
	assert.Equal(t, int64(7), ev.Amount)
}
