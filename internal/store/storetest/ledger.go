package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// event is a checkout event for object created at base plus sec seconds.
func event(id, object string, sec int) payments.Event {
	return payments.Event{
		ID: id, Type: "checkout.session.completed", ObjectID: object,
		Customer: "cus_1", Email: "ada@example.com", Amount: 4200, Currency: "eur",
		Created: base.Truncate(time.Second).Add(time.Duration(sec) * time.Second), Livemode: false,
	}
}

// ledgerStep is one event recorded and the outcome it must have.
type ledgerStep struct {
	e    payments.Event
	want payments.Outcome
}

// ledgerCase is a sequence of events recorded in one fresh ledger.
type ledgerCase struct {
	name  string
	steps []ledgerStep
}

// runLedgerCases records each case's steps, in order, in a store of its own.
func runLedgerCases(t *testing.T, open func(t *testing.T) Stores, cases []ledgerCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := open(t).Ledger
			for _, s := range tt.steps {
				mustRecord(t, l, s.e, s.want)
			}
		})
	}
}

func mustRecord(t *testing.T, l payments.Ledger, e payments.Event, want payments.Outcome) {
	t.Helper()
	got, err := l.Record(context.Background(), e)
	require.NoError(t, err)
	require.Equal(t, want, got, "record %s", e.ID)
}

var (
	recorded  = payments.Outcome{Recorded: true}
	stale     = payments.Outcome{Recorded: true, Stale: true}
	duplicate = payments.Outcome{Duplicate: true}
)

// ExerciseLedger runs the payments-ledger part of Exercise alone, for a
// store opened with other settings (PostgreSQL under another default
// isolation, say).
func ExerciseLedger(t *testing.T, open func(t *testing.T) Stores) {
	t.Helper()
	exerciseLedger(t, open)
}

func exerciseLedger(t *testing.T, open func(t *testing.T) Stores) {
	ctx := context.Background()
	run := func(name string, f func(t *testing.T, l payments.Ledger)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t).Ledger)
		})
	}

	run("an event is recorded once and read back whole", func(t *testing.T, l payments.Ledger) {
		e := event("evt_1", "cs_1", 0)
		e.Livemode, e.Amount = true, 9_007_199_254_740_993 // past float64's exact range
		e.By = "call k claimed 2026-03-04T05:06:07.123456Z"
		mustRecord(t, l, e, recorded)
		got, ok, err := l.Get(ctx, "evt_1")
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, e.Created.Equal(got.Created), "created: want %v, got %v", e.Created, got.Created)
		got.Created = e.Created
		assert.Equal(t, e, got)
	})

	run("an unknown event is not found", func(t *testing.T, l payments.Ledger) {
		_, ok, err := l.Get(ctx, "evt_none")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	run("a second record of an event is a duplicate and changes nothing", func(t *testing.T, l payments.Ledger) {
		mustRecord(t, l, event("evt_1", "cs_1", 0), recorded)
		changed := event("evt_1", "cs_1", 5)
		changed.Amount = 1
		mustRecord(t, l, changed, duplicate)
		got, _, err := l.Get(ctx, "evt_1")
		require.NoError(t, err)
		assert.Equal(t, int64(4200), got.Amount)
	})

	run("an older event after a newer one for the same object is stale", func(t *testing.T, l payments.Ledger) {
		mustRecord(t, l, event("evt_new", "cs_1", 10), recorded)
		mustRecord(t, l, event("evt_old", "cs_1", 5), stale)
		mustRecord(t, l, event("evt_old", "cs_1", 5), staleDuplicate)
		_, ok, err := l.Get(ctx, "evt_old")
		require.NoError(t, err)
		assert.True(t, ok, "a stale event is still kept")
		mustRecord(t, l, event("evt_newer", "cs_1", 11), recorded)
		mustRecord(t, l, event("evt_new_again", "cs_1", 10), stale)
	})

	run("events of one type in the same second are ordered by id", func(t *testing.T, l payments.Ledger) {
		mustRecord(t, l, event("evt_b", "cs_1", 0), recorded)
		mustRecord(t, l, event("evt_a", "cs_1", 0), stale)
		mustRecord(t, l, event("evt_c", "cs_1", 0), recorded)
	})

	run("events of different objects do not order each other", func(t *testing.T, l payments.Ledger) {
		mustRecord(t, l, event("evt_1", "cs_1", 10), recorded)
		mustRecord(t, l, event("evt_2", "cs_2", 5), recorded)
	})

	run("an event about no object is never stale", func(t *testing.T, l payments.Ledger) {
		mustRecord(t, l, event("evt_1", "", 10), recorded)
		mustRecord(t, l, event("evt_2", "", 5), recorded)
	})

	run("concurrent records of one event record it exactly once", func(t *testing.T, l payments.Ledger) {
		outs := recordAll(t, l, func(int) payments.Event { return event("evt_1", "cs_1", 0) })
		counts := map[payments.Outcome]int{}
		for _, o := range outs {
			counts[o]++
		}
		assert.Equal(t, map[payments.Outcome]int{recorded: 1, duplicate: Concurrency - 1}, counts)
	})

	run("concurrent events of one object never leave the newest stale", func(t *testing.T, l payments.Ledger) {
		eventOf := func(i int) payments.Event { return event(fmt.Sprintf("evt_%02d", i), "cs_1", i%7) }
		outs := recordAll(t, l, eventOf)
		newest := 0
		for i := range Concurrency {
			e, n := eventOf(i), eventOf(newest)
			if e.Created.After(n.Created) || (e.Created.Equal(n.Created) && e.ID > n.ID) {
				newest = i
			}
		}
		for i, o := range outs {
			assert.True(t, o.Recorded, "evt_%02d", i)
		}
		assert.Equal(t, recorded, outs[newest], "the newest event evt_%02d is applied", newest)
	})

	exerciseLedgerRanks(t, open)
	exerciseLedgerRepeats(t, open)
	exerciseLedgerBookers(t, open)
}

// recordAll records eventOf(i) from Concurrency goroutines released together.
func recordAll(t *testing.T, l payments.Ledger, eventOf func(i int) payments.Event) []payments.Outcome {
	t.Helper()
	var (
		wg    sync.WaitGroup
		outs  = make([]payments.Outcome, Concurrency)
		start = make(chan struct{})
	)
	for i := range Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o, err := l.Record(context.Background(), eventOf(i))
			assert.NoError(t, err)
			outs[i] = o
		}()
	}
	close(start)
	wg.Wait()
	return outs
}
