package stripe_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

// Found in review. recordPaymentEvent records any event by id. A billing.credit_grant.*
// event's object has a top-level "amount" that is an object (Stripe's
// credit-grant shape), and ParseEvent refuses the whole event for it, so the
// tool answers "invalid_event" for a real Stripe event.
func TestAnEventWhoseAmountIsAnObjectParses(t *testing.T) {
	t.Parallel()
	raw := `{"id":"evt_cg","object":"event","api_version":"2025-03-31.basil","created":1712345678,"livemode":false,
	"type":"billing.credit_grant.created","data":{"object":{"id":"credgr_1","object":"billing.credit_grant",
	"amount":{"monetary":{"currency":"usd","value":1000},"type":"monetary"},
	"applicability_config":{"scope":{"price_type":"metered"}},"category":"paid","customer":"cus_1",
	"effective_at":1712345678,"expires_at":null,"livemode":false,"name":"Purchased credits"}}}`
	e, err := stripe.ParseEvent([]byte(raw))
	require.NoError(t, err)
	require.Equal(t, "cus_1", e.Customer)
}
