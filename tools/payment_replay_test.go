package tools

import (
	"context"
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

// A replayed recordPaymentEvent call gets its audit details from the stored
// result (Tool.Describe), "so the log ties a key to its effect". The first
// call's terminal record said the event was a duplicate (a webhook booked
// it) and stale (a newer event of its object was applied); the replay's
// record must say the same, not only recorded: false, which read as
// "nothing happened" and dropped what the ledger did with the event (found
// in review). Both are kept in the stored result now.
func TestAReplayedPaymentCallIsAuditedStaleAndDuplicateAsTheFirstCallWas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, state.Close()) })
	at := func(id string, sec int64) payments.Event {
		return payments.Event{ID: id, Type: "payment_intent.succeeded", ObjectID: "pi_1", Customer: "cus_1",
			Amount: 1999, Currency: "usd", Created: time.Unix(1_700_000_000+sec, 0).UTC()}
	}
	// The webhook worker applied a newer event, then booked evt_1 as stale.
	for _, e := range []payments.Event{at("evt_new", 100), at("evt_1", 0)} {
		e.By = payments.ByDelivery("stripe:"+e.ID, time.Unix(1_700_000_200, 0))
		_, err := state.Payments().Record(ctx, e)
		require.NoError(t, err)
	}
	def, err := RecordPaymentEvent(Deps{Env: "sandbox", Stripe: fakeStripe{at("evt_1", 0)}, Ledger: state.Payments()})
	require.NoError(t, err)
	s := &sink{}
	run := chain.Wrap(chain.Final, chain.Audit(s, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil))))
	res, err := run(ctx, chain.NewCall(def.Chain, map[string]any{"eventId": "evt_1", "idempotencyKey": "k1"}, "t", "sandbox", "c1"))
	require.NoError(t, err)
	first := s.recs[len(s.recs)-1]
	require.Equal(t, audit.StatusSucceeded, first.Status)
	require.Equal(t, true, first.Details["duplicate"], "first call: %v", first.Details)
	require.Equal(t, true, first.Details["stale"], "first call: %v", first.Details)

	// What the idempotency layer writes into the replayed record.
	replay := def.Chain.Describe(res.Value, "") // recordPaymentEvent has no Via
	t.Logf("first %v, replay %v", first.Details, replay)
	assert.Equal(t, true, replay["duplicate"], "the replay's record says the event was booked by another")
	assert.Equal(t, true, replay["stale"], "the replay's record says the event is stale")
}
