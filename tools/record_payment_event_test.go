package tools

import (
	"context"
	"encoding/json"
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
				res, err := run(ctx, chain.NewCall(def.Chain, map[string]any{"eventId": "evt_1"}, "t", "sandbox", "c1"))
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
