package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// typed is event with another type.
func typed(e payments.Event, typ string) payments.Event {
	e.Type = typ
	return e
}

// The types of a delayed checkout payment: the session completes unpaid,
// then its money arrives, often within the same second.
const (
	completed     = "checkout.session.completed"
	paymentWorked = "checkout.session.async_payment_succeeded"
	paymentFailed = "checkout.session.async_payment_failed"
)

// exerciseLedgerRanks checks that two events of one object created in the
// same second are ordered by their place in the object's life
// (payments.Rank) before their ids, which Stripe draws at random: the money
// of a delayed payment must never be kept stale behind its session's unpaid
// completion. Each store compares the rank of the event it already holds in
// SQL, so both must agree with payments.Rank.
func exerciseLedgerRanks(t *testing.T, open func(t *testing.T) Stores) {
	runLedgerCases(t, open, []ledgerCase{
		{"the money of a delayed payment in the second its session completed is newer, whatever its id", []ledgerStep{
			{typed(event("evt_z", "cs_1", 0), completed), recorded},
			{typed(event("evt_a", "cs_1", 0), paymentWorked), recorded},
		}},
		{"a session's completion delivered after its money of the same second is stale, whatever its id", []ledgerStep{
			{typed(event("evt_a", "cs_1", 0), paymentWorked), recorded},
			{typed(event("evt_z", "cs_1", 0), completed), stale},
			{typed(event("evt_z", "cs_1", 0), completed), staleDuplicate},
		}},
		{"a failed delayed payment is also later than its session's completion", []ledgerStep{
			{typed(event("evt_z", "cs_1", 0), completed), recorded},
			{typed(event("evt_a", "cs_1", 0), paymentFailed), recorded},
		}},
		{"two events of equal rank in one second fall back to event id", []ledgerStep{
			{typed(event("evt_b", "cs_1", 0), paymentWorked), recorded},
			{typed(event("evt_a", "cs_1", 0), paymentFailed), stale},
			{typed(event("evt_c", "cs_1", 0), paymentFailed), recorded},
		}},
		{"a type of no known place ranks before the known ones in one second", []ledgerStep{
			{typed(event("evt_a", "pi_1", 0), "payment_intent.succeeded"), recorded},
			{typed(event("evt_z", "pi_1", 0), "payment_intent.some_new_type"), stale},
		}},
		{"rank orders only within one second: an earlier second is older whatever its type", []ledgerStep{
			{typed(event("evt_a", "cs_1", 1), completed), recorded},
			{typed(event("evt_z", "cs_1", 0), paymentWorked), stale},
			{typed(event("evt_b", "cs_1", 2), completed), recorded},
		}},
	})
	t.Run("concurrent events of one second never leave the latest in the object's life stale", func(t *testing.T) {
		t.Parallel()
		l := open(t).Ledger
		// The ids run against the types: by id alone, a completion is newest.
		eventOf := func(i int) payments.Event {
			typ := paymentWorked
			if i%2 == 0 {
				typ = completed
			}
			return typed(event(fmt.Sprintf("evt_%02d", Concurrency-i), "cs_1", 0), typ)
		}
		outs := recordAll(t, l, eventOf)
		newest := 0
		for i := range Concurrency {
			e, n := eventOf(i), eventOf(newest)
			if r, rn := payments.Rank(e.Type), payments.Rank(n.Type); r > rn || (r == rn && e.ID > n.ID) {
				newest = i
			}
		}
		assert.Equal(t, paymentWorked, eventOf(newest).Type)
		assert.Equal(t, recorded, outs[newest], "the newest event %s is applied", eventOf(newest).ID)
	})
}
