package stripe_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

func newClient(srv *fakesaas.Server, key string) stripe.Client {
	return stripe.New(stripe.Config{
		BaseURL: srv.StripeAPIURL(), Key: config.NewSecret(key),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
}

func TestGetEventReturnsTheParsedEvent(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	srv.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_test", fakesaas.Payment{
		ObjectID: "cs_test_1", Customer: "cus_1", Email: "a@example.com", Amount: 1999, Currency: "eur", Created: created,
	}))
	srv.AddStripeEvent(fakesaas.PaymentIntentSucceeded("evt_live", fakesaas.Payment{
		ObjectID: "pi_1", Amount: 500, Currency: "usd", Livemode: true, Created: created,
	}))

	got, err := newClient(srv, fakesaas.StripeKey).GetEvent(t.Context(), "evt_test")
	require.NoError(t, err)
	assert.Equal(t, payments.Event{ID: "evt_test", Type: "checkout.session.completed", ObjectID: "cs_test_1",
		Customer: "cus_1", Email: "a@example.com", Amount: 1999, Currency: "eur", Created: created}, got)

	got, err = newClient(srv, fakesaas.StripeLiveKey).GetEvent(t.Context(), "evt_live")
	require.NoError(t, err)
	assert.True(t, got.Livemode)
	assert.Equal(t, int64(500), got.Amount)

	reqs := srv.Requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, "/v1/events/evt_test", reqs[0].Path)
}

func TestGetEventFailuresAreClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		key        string
		id         string
		arrange    func(t *testing.T, srv *fakesaas.Server) (baseURL string)
		ctx        func(context.Context) context.Context
		wantStatus int
		wantCode   string
	}{
		{name: "an unknown event is resource_missing", key: fakesaas.StripeKey, id: "evt_nope",
			wantStatus: 404, wantCode: "resource_missing"},
		{name: "a test key cannot see a live event", key: fakesaas.StripeKey, id: "evt_live",
			wantStatus: 404, wantCode: "resource_missing"},
		{name: "a bad key is 401", key: "sk_test_notthekey1234", id: "evt_test",
			wantStatus: 401, wantCode: "invalid_request_error"},
		{name: "a rate limit names its code", key: fakesaas.StripeKey, id: "evt_test",
			arrange: func(t *testing.T, srv *fakesaas.Server) string {
				srv.Inject(fakesaas.Fault{Path: "/v1/", Status: 429, Header: http.Header{"Retry-After": {"1"}}})
				return ""
			},
			wantStatus: 429, wantCode: "rate_limit"},
		{name: "a proxy's HTML 502 keeps its status", key: fakesaas.StripeKey, id: "evt_test",
			arrange: func(t *testing.T, srv *fakesaas.Server) string {
				srv.Inject(fakesaas.Fault{Path: "/v1/", Status: 502, Body: "<html>bad gateway</html>"})
				return ""
			},
			wantStatus: 502},
		{name: "a body that is not the event asked for is invalid_event", key: fakesaas.StripeKey, id: "evt_test",
			arrange: func(t *testing.T, srv *fakesaas.Server) string {
				srv.Inject(fakesaas.Fault{Path: "/v1/", Status: 200, Body: `{"id":"evt_other","object":"event","type":"x","data":{"object":{}}}`})
				return ""
			},
			wantStatus: 200, wantCode: "invalid_event"},
		{name: "a refused connection has no status", key: fakesaas.StripeKey, id: "evt_test",
			arrange: func(t *testing.T, srv *fakesaas.Server) string {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				addr := ln.Addr().String()
				require.NoError(t, ln.Close())
				return "http://" + addr
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New()
			t.Cleanup(srv.Close)
			srv.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_test", fakesaas.Payment{Amount: 1, Currency: "eur"}))
			srv.AddStripeEvent(fakesaas.PaymentIntentSucceeded("evt_live", fakesaas.Payment{Amount: 1, Currency: "eur", Livemode: true}))
			base := srv.StripeAPIURL()
			if tt.arrange != nil {
				if b := tt.arrange(t, srv); b != "" {
					base = b
				}
			}
			c := stripe.New(stripe.Config{BaseURL: base, Key: config.NewSecret(tt.key)})
			_, err := c.GetEvent(t.Context(), tt.id)
			t.Logf("error: %v", err)
			var pe *provider.Error
			require.True(t, errors.As(err, &pe), "want *provider.Error, got %T %v", err, err)
			assert.Equal(t, "stripe", pe.Provider)
			assert.Equal(t, tt.wantStatus, pe.Status)
			assert.Equal(t, tt.wantCode, pe.Code)
			assert.False(t, pe.InDoubt, "reading an event is never in doubt")
			assert.NotContains(t, err.Error(), tt.key)
		})
	}
}

func TestGetEventNeedsAKeyAndAnID(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	_, err := stripe.New(stripe.Config{BaseURL: srv.StripeAPIURL()}).GetEvent(t.Context(), "evt_1")
	require.ErrorContains(t, err, "no secret key")
	_, err = newClient(srv, fakesaas.StripeKey).GetEvent(t.Context(), " ")
	require.ErrorContains(t, err, "event id")
	assert.Zero(t, srv.Count("", "/"), "nothing was sent")
}
