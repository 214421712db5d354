package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// staleDuplicate is a repeat of an event that was kept as stale.
var staleDuplicate = payments.Outcome{Duplicate: true, Stale: true}

// exerciseLedgerRepeats checks that a repeated Record reports what the ledger
// did with the event the first time. The worker turns a Duplicate's Stale
// into the delivery's outcome, so a replay, a redelivery after a crash, or a
// webhook after recordPaymentEvent must not turn a stale event into a
// processed one.
func exerciseLedgerRepeats(t *testing.T, open func(t *testing.T) Stores) {
	runLedgerCases(t, open, []ledgerCase{
		{"a repeat of a stale event is a duplicate that is still stale", []ledgerStep{
			{event("evt_new", "cs_1", 10), recorded},
			{event("evt_old", "cs_1", 5), stale},
			{event("evt_old", "cs_1", 5), staleDuplicate},
			{event("evt_old", "cs_1", 5), staleDuplicate},
		}},
		{"a repeat of a stale event of the same second is still stale", []ledgerStep{
			{event("evt_b", "cs_1", 0), recorded},
			{event("evt_a", "cs_1", 0), stale},
			{event("evt_a", "cs_1", 0), staleDuplicate},
		}},
		{"a repeat of an applied event stays not stale after a newer one is applied", []ledgerStep{
			{event("evt_old", "cs_1", 5), recorded},
			{event("evt_new", "cs_1", 10), recorded},
			{event("evt_old", "cs_1", 5), duplicate},
		}},
		{"a repeat of an event about no object is not stale", []ledgerStep{
			{event("evt_1", "", 10), recorded},
			{event("evt_1", "", 10), duplicate},
		}},
		{"a repeat that claims a newer time is still stale and moves nothing", []ledgerStep{
			{event("evt_new", "cs_1", 10), recorded},
			{event("evt_old", "cs_1", 5), stale},
			{event("evt_old", "cs_1", 20), staleDuplicate},
			// Had the repeat applied at 20 s, this event would be stale.
			{event("evt_next", "cs_1", 15), recorded},
		}},
	})

	t.Run("concurrent repeats of a stale event all say stale", func(t *testing.T) {
		t.Parallel()
		l := open(t).Ledger
		mustRecord(t, l, event("evt_new", "cs_1", 10), recorded)
		outs := recordAll(t, l, func(int) payments.Event { return event("evt_old", "cs_1", 5) })
		counts := map[payments.Outcome]int{}
		for _, o := range outs {
			counts[o]++
		}
		assert.Equal(t, map[payments.Outcome]int{stale: 1, staleDuplicate: Concurrency - 1}, counts)
	})
}
