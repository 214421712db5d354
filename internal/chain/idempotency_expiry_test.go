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

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestAnIdenticalCallWhileTheFirstRunsPastTheKeysExpiryIsInProgress holds a
// first call inside the provider (as a Retry-After wait would) until its key
// is past ExpiresAt: IDEMPOTENCY_WINDOW (or the explicit key's TTL) is
// counted from the claim and may be shorter than the lease, which the
// heartbeat moves. A second identical call must be told the first is in
// progress, not take the key for expired and send again: one key, one
// effect. Once the first has finished, its expired result is forgotten as
// before and the same call acts anew. The store is the real SQLite one.
func TestAnIdenticalCallWhileTheFirstRunsPastTheKeysExpiryIsInProgress(t *testing.T) {
	t.Parallel()
	derived := map[string]any{"channel": "C1", "text": "deploy done"}
	explicit := map[string]any{"channel": "C1", "text": "deploy done", "idempotencyKey": "deploy-42"}
	tests := []struct {
		name    string
		args    map[string]any
		lease   time.Duration
		advance time.Duration // how far the clock moves while the first call runs
		beat    bool          // wait for the heartbeat to move the lease past the new now
		prune   bool          // prune the store before the second call
	}{
		{name: "a derived key past the window, inside the lease", args: derived, lease: 270 * time.Second, advance: 40 * time.Second},
		{name: "an explicit key past its TTL, inside the lease", args: explicit, lease: 270 * time.Second, advance: 40 * time.Second},
		{name: "a derived key past the window, after a prune", args: derived, lease: 270 * time.Second, advance: 40 * time.Second, prune: true},
		{name: "a derived key past the window and the first lease, which the heartbeat moved", args: derived, lease: time.Minute, advance: 3 * time.Minute, beat: true, prune: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })

			var clock atomic.Int64
			clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			idem := &Idempotency{
				Store:  db.Keys(),
				Policy: idempotency.Policy{Window: 30 * time.Second, KeyTTL: 30 * time.Second, Lease: tt.lease},
				Owner:  idempotency.OwnerID(), Alive: idempotency.Alive, Now: now, Audit: &memSink{}, Log: discard,
			}
			if tt.beat {
				idem.Heartbeat = time.Millisecond
			}
			var runs atomic.Int64
			inside, finish := make(chan struct{}), make(chan struct{})
			tool := &Tool{Name: "sendMessage", Provider: "slack", Action: "post_message",
				Run: func(ctx context.Context, c *Call) (any, error) {
					if runs.Add(1) == 1 {
						close(inside)
						<-finish // e.g. waiting out a Retry-After
					}
					return map[string]any{"ts": "1.1"}, nil
				},
				Reconcile: func(context.Context, *Call, time.Time) (any, bool, error) { return nil, false, nil },
			}
			h := idem.Middleware()(Final)
			key := NewCall(tool, tt.args, "t", "sandbox", "c0").Key
			if NewCall(tool, tt.args, "t", "sandbox", "c0").Explicit {
				key, err = idempotency.ExplicitKey(key)
				require.NoError(t, err)
			}

			first := make(chan error, 1)
			go func() {
				_, err := h(ctx, NewCall(tool, tt.args, "t", "sandbox", "c1"))
				first <- err
			}()
			<-inside
			clock.Add(int64(tt.advance))
			if tt.beat {
				require.Eventually(t, func() bool {
					row, _, err := db.Keys().Get(ctx, key)
					return err == nil && row.LeaseUntil.After(now())
				}, 5*time.Second, time.Millisecond, "the heartbeat moves the lease past now")
			}
			row, ok, err := db.Keys().Get(ctx, key)
			require.NoError(t, err)
			require.True(t, ok, "the first call's claim is stored")
			require.False(t, now().Before(row.ExpiresAt), "the key is past its expiry while its call runs")
			if tt.prune {
				_, err := db.Keys().Prune(ctx, now())
				require.NoError(t, err)
			}

			_, err = h(ctx, NewCall(tool, tt.args, "t", "sandbox", "c2"))
			close(finish)
			require.NoError(t, <-first)
			var cerr *Error
			require.True(t, errors.As(err, &cerr), "the second call is refused, got %v", err)
			assert.Equal(t, KindConflict, cerr.Kind)
			assert.Contains(t, cerr.Error(), "still in progress")
			assert.EqualValues(t, 1, runs.Load(), "one key, one provider call")

			_, err = h(ctx, NewCall(tool, tt.args, "t", "sandbox", "c3"))
			require.NoError(t, err)
			assert.EqualValues(t, 2, runs.Load(), "once the first call has finished, its expired key is forgotten and the call acts anew")
		})
	}
}
