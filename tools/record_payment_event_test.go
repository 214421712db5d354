package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

func TestRecordPaymentEventAuditsAStaleEventAsStaleEveryTime(t *testing.T) {
	t.Parallel()
	at := func(id string, sec int64) payments.Event {
		return payments.Event{ID: id, Type: "payment_intent.succeeded", ObjectID: "pi_1", Customer: "cus_1",
			Amount: 1999, Currency: "usd", Created: time.Unix(1_700_000_000+sec, 0).UTC()}
	}
	tests := []struct {
		name string
		// before are recorded in the ledger first (the webhook worker).
		before []payments.Event
		// For each call in turn: the result's recorded, and whether the
		// call's audit record says stale.
		wantRecorded, wantStale []bool
	}{
		{"an event older than the applied one is audited stale, first time and repeat",
			[]payments.Event{at("evt_new", 100)}, []bool{true, false}, []bool{true, true}},
		{"an event the webhook already kept as stale is audited stale",
			[]payments.Event{at("evt_new", 100), at("evt_1", 0)}, []bool{false}, []bool{true}},
		{"an applied event is never audited stale",
			nil, []bool{true, false}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			state, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{Synchronous: "NORMAL"})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, state.Close()) })
			for _, e := range tt.before {
				_, err := state.Payments().Record(ctx, e)
				require.NoError(t, err)
			}
			def, err := RecordPaymentEvent(Deps{Env: "sandbox", Stripe: fakeStripe{at("evt_1", 0)}, Ledger: state.Payments()})
			require.NoError(t, err)
			s := &sink{}
			run := chain.Wrap(chain.Final, chain.Audit(s, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil))))
			for i := range tt.wantRecorded {
				// Each call under a key of its own: a repeat is another
				// call, not a retry of the one that booked the event.
				args := map[string]any{"eventId": "evt_1", "idempotencyKey": fmt.Sprintf("k%d", i+1)}
				res, err := run(ctx, chain.NewCall(def.Chain, args, "t", "sandbox", "c1"))
				require.NoError(t, err)
				var got RecordedPayment
				require.NoError(t, json.Unmarshal(res.Value, &got))
				assert.Equal(t, tt.wantRecorded[i], got.Recorded, "call %d: recorded", i+1)
				term := s.recs[len(s.recs)-1]
				require.Equal(t, audit.StatusSucceeded, term.Status, "call %d", i+1)
				assert.Equal(t, tt.wantStale[i], term.Details["stale"] == true, "call %d: audited stale", i+1)
			}
		})
	}
}

// A recordPaymentEvent call killed after the ledger's commit, before its
// result and terminal record, is retried under the same key and the same
// claim (a key in doubt keeps its first claim). The retry must say it booked
// the event, in its result and its terminal record, with earlierAttempt:
// otherwise no audit record would ever say the event was booked. Another
// key, or the same key in a later life (claimed again after it expired: the
// same call without a key after the window), is another call: a duplicate.
func TestARetryOfTheCallThatBookedAPaymentSaysItBookedItInAnEarlierAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, state.Close()) })
	ev := payments.Event{ID: "evt_1", Type: "payment_intent.succeeded", ObjectID: "pi_1", Customer: "cus_1",
		Amount: 1999, Currency: "usd", Created: time.Unix(1_700_000_000, 0).UTC()}
	def, err := RecordPaymentEvent(Deps{Env: "sandbox", Stripe: fakeStripe{ev}, Ledger: state.Payments()})
	require.NoError(t, err)
	s := &sink{}
	run := chain.Wrap(chain.Final, chain.Audit(s, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil))))
	claimed := time.Unix(1_700_000_500, 123_000).UTC()

	tests := []struct {
		name      string
		key       string
		claimedAt time.Time
		// the result's recorded, and the terminal record's recorded,
		// duplicate and earlierAttempt
		recorded, duplicate, earlier bool
	}{
		{"the first attempt books the event", "k1", claimed, true, false, false},
		{"its retry under the same claim booked it in an earlier attempt", "k1", claimed, true, false, true},
		{"another key finds it booked", "k2", claimed, false, true, false},
		{"the same key claimed again after it expired finds it booked", "k1", claimed.Add(time.Hour), false, true, false},
	}
	for i, tt := range tests { // in order: each step sees the ledger the ones before left
		c := chain.NewCall(def.Chain, map[string]any{"eventId": "evt_1", "idempotencyKey": tt.key}, "t", "sandbox",
			fmt.Sprintf("c%d", i+1))
		c.ClaimedAt = tt.claimedAt
		res, err := run(ctx, c)
		require.NoError(t, err, tt.name)
		var got RecordedPayment
		require.NoError(t, json.Unmarshal(res.Value, &got))
		assert.Equal(t, tt.recorded, got.Recorded, "%s: the result's recorded", tt.name)
		term := s.recs[len(s.recs)-1]
		require.Equal(t, audit.StatusSucceeded, term.Status, tt.name)
		assert.Equal(t, tt.recorded, term.Details["recorded"], "%s: recorded", tt.name)
		assert.Equal(t, tt.duplicate, term.Details["duplicate"], "%s: duplicate", tt.name)
		assert.Equal(t, tt.earlier, term.Details["earlierAttempt"] == true, "%s: earlierAttempt", tt.name)
	}
}
