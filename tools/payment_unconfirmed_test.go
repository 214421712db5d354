package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// bookThenFail is the ledger as sqlite.Payments.Record behaves when the
// fdatasync after its commit fails: the row is committed (visible to every
// reader, in every process), and Record returns an error wrapping
// payments.ErrUnconfirmed.
type bookThenFail struct {
	payments.Ledger
	fails atomic.Int32
}

func (l *bookThenFail) Record(ctx context.Context, e payments.Event) (payments.Outcome, error) {
	out, err := l.Ledger.Record(ctx, e)
	if err == nil && l.fails.Add(-1) >= 0 {
		return payments.Outcome{}, fmt.Errorf("record event: %w: %w", payments.ErrUnconfirmed, errors.New("sync state.db WAL: input/output error"))
	}
	return out, err
}

// A recordPaymentEvent call whose ledger booking was committed but then
// reported unconfirmed (the WAL sync after the commit failed) keeps its key,
// in doubt, so the retry with the same key keeps the claim and its booker,
// and is told it recorded the event (README: "a retry of a call killed after
// booking answers recorded: true"). Found in review: the key was released,
// the retry claimed a new life of it, another booker, and was told the event
// was a duplicate booked by someone else.
func TestAPaymentBookedButUnconfirmedKeepsItsKeyForTheRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = state.Close() })
	ev := payments.Event{ID: "evt_1", Type: "payment_intent.succeeded", ObjectID: "pi_1", Customer: "cus_1",
		Amount: 1999, Currency: "usd", Created: time.Unix(1_700_000_000, 0).UTC()}
	ledger := &bookThenFail{Ledger: state.Payments()}
	ledger.fails.Store(1)
	def, err := RecordPaymentEvent(Deps{Env: "sandbox", Stripe: fakeStripe{ev}, Ledger: ledger})
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &sink{}
	idem := &chain.Idempotency{Store: state.Keys(), Owner: "me", Alive: func(string) bool { return true },
		Now: time.Now, Audit: s, Log: log}
	run := chain.Wrap(chain.Final, chain.Audit(s, time.Now, log), idem.Middleware())
	args := map[string]any{"eventId": "evt_1", "idempotencyKey": "k1"}

	_, err = run(ctx, chain.NewCall(def.Chain, args, "t", "sandbox", "c1"))
	require.Error(t, err, "first call: booked, then reported failed")
	t.Logf("first call: %v", err)
	row, found, gerr := state.Keys().Get(ctx, "key:k1")
	require.NoError(t, gerr)
	t.Logf("key row after the failed call: found=%v state=%v", found, row.State)

	time.Sleep(2 * time.Millisecond)
	res, err := run(ctx, chain.NewCall(def.Chain, args, "t", "sandbox", "c2"))
	require.NoError(t, err)
	var got RecordedPayment
	require.NoError(t, json.Unmarshal(res.Value, &got))
	t.Logf("retry with the same key: %s", res.Value)
	assert.True(t, got.Recorded, "the event was booked under this key by its first call; the retry must say recorded, not duplicate")
	assert.False(t, got.Duplicate)
}
