package chain

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// replacedBundle is the idempotency middleware on a real SQLite store, with
// a clock the test moves, and a key left behind by a process that died.
type replacedBundle struct {
	idem  *Idempotency
	sink  *memSink
	store idempotency.Store
	tool  *Tool
	args  map[string]any
	key   string // as stored
	clock atomic.Int64
	// seen is what the sink held when the tool ran.
	seen []audit.Record
	runs atomic.Int64
}

func newReplacedBundle(t *testing.T) *replacedBundle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	b := &replacedBundle{sink: &memSink{}, store: db.Keys(), args: map[string]any{"repo": "acme/sib", "title": "Broken sib"}}
	b.clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, b.clock.Load()).UTC() }
	b.tool = &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Target: func(a map[string]any) string { s, _ := a["repo"].(string); return s },
		Run: func(context.Context, *Call) (any, error) {
			b.runs.Add(1)
			b.sink.mu.Lock()
			b.seen = append([]audit.Record(nil), b.sink.recs...)
			b.sink.mu.Unlock()
			return map[string]any{"number": 2}, nil
		},
		Reconcile: func(context.Context, *Call, time.Time) (any, bool, error) { return nil, false, nil },
	}
	b.idem = &Idempotency{
		Store:  b.store,
		Policy: idempotency.Policy{Window: time.Second, KeyTTL: time.Second, Lease: time.Minute},
		Owner:  "me", Alive: func(owner string) bool { return owner != "dead" }, Now: now, Audit: b.sink, Log: discard,
	}
	b.key = NewCall(b.tool, b.args, "t", "sandbox", "c0").Key
	return b
}

func (b *replacedBundle) now() time.Time { return time.Unix(0, b.clock.Load()).UTC() }

// leave claims the key as a process "dead" did, and lets finish do what it
// did before it died.
func (b *replacedBundle) leave(t *testing.T, finish func(ctx context.Context, key string) error) time.Time {
	t.Helper()
	at := b.now()
	call := NewCall(b.tool, b.args, "t", "sandbox", "c0")
	claim, err := b.idem.Policy.NewClaim(b.tool.Name, "", call.argsHash, "acme/sib", "dead", at)
	require.NoError(t, err)
	_, out, err := b.store.Claim(context.Background(), claim, at, b.idem.Alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired.String(), out.String())
	require.NoError(t, finish(context.Background(), claim.Key))
	return at
}

func (b *replacedBundle) call() (Result, error) {
	return b.idem.Middleware()(Final)(context.Background(), NewCall(b.tool, b.args, "t", "sandbox", "c1"))
}

func inDoubtRecords(recs []audit.Record) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		if r.Action == "idempotency.in_doubt" {
			out = append(out, r)
		}
	}
	return out
}

// TestAKeyInDoubtWhoseRowANewCallReplacesIsNamedBeforeTheCallActs: the
// README says a key in doubt left by another process "is listed the same way
// before the 10-minute prune deletes it". A new call with the same key after
// the row has expired (a derived key recurs by design) replaces the row
// first, and the prune never sees it: the middleware must write the same
// idempotency.in_doubt record the prune would have, before the call acts.
func TestAKeyInDoubtWhoseRowANewCallReplacesIsNamedBeforeTheCallActs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		finish func(b *replacedBundle) func(ctx context.Context, key string) error
		state  idempotency.State
	}{
		{"a claim whose owner died after the provider answered", func(*replacedBundle) func(context.Context, string) error {
			return func(context.Context, string) error { return nil }
		}, idempotency.StateClaimed},
		{"a key marked in doubt", func(b *replacedBundle) func(context.Context, string) error {
			return func(ctx context.Context, key string) error { return b.store.MarkInDoubt(ctx, key, "dead") }
		}, idempotency.StateInDoubt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newReplacedBundle(t)
			claimedAt := b.leave(t, tt.finish(b))
			b.clock.Add(int64(2 * time.Minute)) // past the window and the lease

			_, err := b.call()
			require.NoError(t, err)
			require.EqualValues(t, 1, b.runs.Load(), "an expired key acts again (README)")
			named := inDoubtRecords(b.seen)
			require.Len(t, named, 1, "the replaced key in doubt is named before the call acts: %+v", b.seen)
			r := named[0]
			assert.Equal(t, "saas-mcp", r.Actor)
			assert.Equal(t, "saas-mcp", r.Provider)
			assert.Equal(t, audit.StatusInDoubt, r.Status)
			assert.Equal(t, idempotency.CallerKey(b.key), r.IdempotencyKey)
			assert.Equal(t, "createTicket", r.Tool)
			assert.Equal(t, "acme/sib", r.Target)
			assert.Equal(t, map[string]any{
				"claimedAt": claimedAt.Format(time.RFC3339Nano), "state": string(tt.state), "expired": true,
			}, r.Details, "the record the start-up report and the prune write")
			assert.Len(t, inDoubtRecords(b.sink.recs), 1, "named once")
		})
	}
}

// TestAnExpiredCommittedKeyIsReplacedWithoutBeingNamedInDoubt: a committed
// row explains its call (its result was stored), so replacing it once it has
// expired names nothing.
func TestAnExpiredCommittedKeyIsReplacedWithoutBeingNamedInDoubt(t *testing.T) {
	t.Parallel()
	b := newReplacedBundle(t)
	b.leave(t, func(ctx context.Context, key string) error {
		return b.store.Commit(ctx, key, "dead", []byte(`{"number":1}`))
	})
	b.clock.Add(int64(2 * time.Minute))
	_, err := b.call()
	require.NoError(t, err)
	assert.EqualValues(t, 1, b.runs.Load())
	assert.Empty(t, inDoubtRecords(b.sink.recs))
}

// TestACallThatCannotNameTheKeyInDoubtItReplacedIsRefused: the record is
// the only trace left of a call that may have acted, and an audit log that
// cannot be written refuses the action (README, fail closed): nothing is
// sent and the claim is given back, so a retry, once the log can be
// written, acts.
func TestACallThatCannotNameTheKeyInDoubtItReplacedIsRefused(t *testing.T) {
	t.Parallel()
	b := newReplacedBundle(t)
	claimedAt := b.leave(t, func(ctx context.Context, key string) error { return b.store.MarkInDoubt(ctx, key, "dead") })
	b.clock.Add(int64(2 * time.Minute))
	b.sink.mu.Lock()
	b.sink.fail = errors.New("disk full")
	b.sink.mu.Unlock()

	_, err := b.call()
	require.Error(t, err)
	assert.Equal(t, KindInternal, KindOf(err))
	assert.Contains(t, err.Error(), "audit log cannot be written")
	assert.Zero(t, b.runs.Load(), "nothing is sent")
	// The claim is taken back by putting the replaced row back in doubt as
	// it was, not by deleting the key (found in review: Release deleted the
	// only trace of the earlier call, and the retry below named nothing).
	row, found, gerr := b.store.Get(context.Background(), b.key)
	require.NoError(t, gerr)
	assert.True(t, found && row.State == idempotency.StateInDoubt && row.ClaimedAt.Equal(claimedAt) && row.Owner == "dead",
		"the refused call leaves the earlier call's row in doubt as it was (found=%v row=%+v)", found, row)

	b.sink.mu.Lock()
	b.sink.fail = nil
	b.sink.mu.Unlock()
	_, err = b.call()
	require.NoError(t, err)
	assert.EqualValues(t, 1, b.runs.Load())
	named := inDoubtRecords(b.seen)
	require.Len(t, named, 1, "the earlier call that may have acted is named before the retry acts: %+v", b.seen)
	assert.Equal(t, claimedAt.Format(time.RFC3339Nano), named[0].Details["claimedAt"])
}
