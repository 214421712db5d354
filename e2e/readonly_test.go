package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// TestReadOnlyRefusesOnlyToolsThatChangeAProvider: READ_ONLY=true refuses
// sendMessage and createTicket, naming the rule, before anything is sent;
// writeAudit (saas-mcp's own log) and recordPaymentEvent (a Stripe read,
// recorded in saas-mcp's own ledger) change nothing at a provider and run.
func TestReadOnlyRefusesOnlyToolsThatChangeAProvider(t *testing.T) {
	t.Parallel()
	h := start(t, func(f *fakesaas.Server) map[string]string {
		vars := withAllCredentials(f)
		vars["READ_ONLY"] = "true"
		return vars
	})
	h.fake.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_1Ro", fakesaas.Payment{ObjectID: "cs_ro", Customer: "cus_ro", Amount: 100, Currency: "usd"}))
	tests := []struct {
		tool    string
		args    map[string]any
		refused bool
	}{
		{"sendMessage", map[string]any{"channel": "C0GENERAL", "text": "hi"}, true},
		{"createTicket", map[string]any{"repo": "acme/app", "title": "x"}, true},
		{"writeAudit", map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1"}, false},
		{"recordPaymentEvent", map[string]any{"eventId": "evt_1Ro"}, false},
	}
	for _, tt := range tests {
		res := h.call(tt.tool, tt.args)
		if tt.refused {
			require.True(t, res.IsError, tt.tool)
			assert.Contains(t, text(res), "READ_ONLY=true", tt.tool)
			continue
		}
		assert.False(t, res.IsError, "%s: %s", tt.tool, text(res))
	}
	assert.Empty(t, h.fake.SlackMessages(""), "nothing was posted")
	assert.Empty(t, h.fake.GitHubIssues("acme/app"), "nothing was created")
}
