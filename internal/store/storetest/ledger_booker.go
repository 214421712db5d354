package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// Outcomes of a repeat by the booker that recorded the event.
var (
	earlier      = payments.Outcome{Recorded: true, Earlier: true}
	staleEarlier = payments.Outcome{Recorded: true, Earlier: true, Stale: true}
)

// by is event with a booker.
func by(e payments.Event, booker string) payments.Event {
	e.By = booker
	return e
}

// exerciseLedgerBookers checks that a repeat by the booker that recorded an
// event is told it recorded it (in an earlier attempt), and any other repeat
// that it is a duplicate. A recordPaymentEvent call or a webhook delivery
// killed after the ledger's commit, before its audit record, is run again:
// without this, no audit record would ever say the event was booked.
func exerciseLedgerBookers(t *testing.T, open func(t *testing.T) Stores) {
	const a, b = "call a claimed 2026-03-04T05:06:07Z", "delivery stripe:evt_1"
	runLedgerCases(t, open, []ledgerCase{
		{"a repeat by the booker that recorded the event says it recorded it earlier", []ledgerStep{
			{by(event("evt_1", "cs_1", 0), a), recorded},
			{by(event("evt_1", "cs_1", 0), a), earlier},
			{by(event("evt_1", "cs_1", 0), a), earlier},
		}},
		{"a repeat by another booker is a duplicate and takes nothing from the first", []ledgerStep{
			{by(event("evt_1", "cs_1", 0), a), recorded},
			{by(event("evt_1", "cs_1", 0), b), duplicate},
			{by(event("evt_1", "cs_1", 0), a), earlier},
		}},
		{"an empty booker is nobody: its repeats are duplicates and it matches no booker", []ledgerStep{
			{event("evt_1", "cs_1", 0), recorded},
			{event("evt_1", "cs_1", 0), duplicate},
			{by(event("evt_1", "cs_1", 0), a), duplicate},
			{by(event("evt_2", "cs_2", 0), a), recorded},
			{event("evt_2", "cs_2", 0), duplicate},
		}},
		{"a repeat by the booker of a stale event says it recorded it earlier, still stale", []ledgerStep{
			{by(event("evt_new", "cs_1", 10), b), recorded},
			{by(event("evt_old", "cs_1", 5), a), stale},
			{by(event("evt_old", "cs_1", 5), a), staleEarlier},
			{by(event("evt_old", "cs_1", 5), b), staleDuplicate},
			// The repeat moved nothing: a newer event still applies.
			{by(event("evt_next", "cs_1", 15), a), recorded},
		}},
	})

	t.Run("the booker is read back with the event", func(t *testing.T) {
		t.Parallel()
		l := open(t).Ledger
		mustRecord(t, l, by(event("evt_1", "cs_1", 0), a), recorded)
		mustRecord(t, l, by(event("evt_1", "cs_1", 0), b), duplicate)
		got, ok, err := l.Get(t.Context(), "evt_1")
		assert.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, a, got.By, "a repeat by another booker does not change the booker")
	})

	t.Run("concurrent records of one event by two bookers record it once, for one booker", func(t *testing.T) {
		t.Parallel()
		l := open(t).Ledger
		bookers := []string{a, b}
		outs := recordAll(t, l, func(i int) payments.Event { return by(event("evt_1", "cs_1", 0), bookers[i%2]) })
		got, _, err := l.Get(t.Context(), "evt_1")
		assert.NoError(t, err)
		want := map[payments.Outcome]int{recorded: 1, earlier: Concurrency/2 - 1, duplicate: Concurrency / 2}
		counts := map[payments.Outcome]int{}
		for i, o := range outs {
			counts[o]++
			if o.Recorded && !o.Earlier {
				assert.Equal(t, bookers[i%2], got.By, "the row names the booker whose Record added it")
			}
		}
		assert.Equal(t, want, counts)
	})
}
