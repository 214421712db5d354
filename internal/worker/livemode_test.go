package worker

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// The livemode guard runs after stripe.ParseEvent in handleStripe: a
// live-mode event of a handled type that the parser cannot read is
// dead-lettered (failed, dead_lettered, replayable) instead of rejected,
// while the same live-mode event under any other type is rejected
// (otherStripeEvent reads only livemode). README: "a Stripe event of any
// type whose livemode contradicts INTEGRATION_ENV is rejected".
func TestALiveModeEventOfAHandledTypeIsRejectedInSandboxEvenIfItsObjectCannotBeRead(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"id":"evt_live","object":"event","type":"payment_intent.succeeded","created":1700000000,` +
		`"livemode":true,"data":{"object":"pi_1"}}`)
	for _, typ := range []string{"customer.created", "payment_intent.succeeded"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &fakeLedger{}, "sandbox", 3)
			id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_live", EventType: typ, Payload: payload})
			b.waitFinished(t, []int64{id})
			d := b.waitAny(t, id)
			assert.Equal(t, queue.StateProcessed, d.State)
			assert.Equal(t, audit.StatusRejected, d.Outcome)
			assert.Equal(t, []string{audit.StatusRejected}, b.sink.statuses("stripe:evt_live"))
		})
	}
}
