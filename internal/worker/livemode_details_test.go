package worker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// Before 3ead5c7 a readable live payment event in sandbox was rejected
// after stripe.ParseEvent, and its rejected record's details named its
// customer, amount and currency. otherMode now rejects it first, with only
// eventId and reason: the audit trail no longer says which payment was
// refused.
func TestARejectedLivePaymentEventStillNamesItsObjectCustomerAndAmount(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 3)
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_lm", Target: "cs_1", EventType: "checkout.session.completed",
		Payload: stripeEvent("evt_lm", true)})
	b.waitState(t, id, queue.StateProcessed)
	b.sink.mu.Lock()
	defer b.sink.mu.Unlock()
	var rec *audit.Record
	for i := range b.sink.recs {
		if b.sink.recs[i].IdempotencyKey == "stripe:evt_lm" {
			rec = &b.sink.recs[i]
		}
	}
	require.NotNil(t, rec)
	assert.Equal(t, audit.StatusRejected, rec.Status)
	assert.Equal(t, "cus_1", rec.Details["customer"], "details: %v", rec.Details)
	assert.NotNil(t, rec.Details["amount"], "details: %v", rec.Details)
}
