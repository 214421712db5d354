package chain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/postgres"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestATakeoverMarksTheClaimTheFirstAttemptMarked: a first attempt claims, starts
// sending and its process dies (the claim stays "claimed" by a dead owner);
// another process, whose clock has stepped back and carries a time zone,
// reacquires the key. The claim second it reconciles with (since) and the
// one it would write into its own marker must be the first attempt's.
func TestATakeoverMarksTheClaimTheFirstAttemptMarked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stores := map[string]func(t *testing.T) idempotency.Store{
		"sqlite": func(t *testing.T) idempotency.Store {
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db.Keys()
		},
		"postgres": func(t *testing.T) idempotency.Store {
			u := os.Getenv("TEST_DATABASE_URL")
			if u == "" {
				t.Skip("TEST_DATABASE_URL")
			}
			db, err := postgres.Open(ctx, u)
			require.NoError(t, err)
			t.Cleanup(db.Close)
			return db.Keys()
		},
	}
	for name, open := range stores {
		for _, nanos := range []int{999_999_999, 999_999_500, 500, 0} {
			t.Run(fmt.Sprintf("%s/%d", name, nanos), func(t *testing.T) {
				t.Parallel()
				st := open(t)
				key := fmt.Sprintf("rv-%s-%d-%d", name, nanos, time.Now().UnixNano())
				var (
					mu    sync.Mutex
					ran   []time.Time
					since []time.Time
				)
				block := make(chan struct{})
				started := make(chan struct{}, 1)
				tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
					Run: func(ctx context.Context, c *Call) (any, error) {
						mu.Lock()
						ran = append(ran, c.ClaimedAt)
						n := len(ran)
						mu.Unlock()
						if n == 1 {
							started <- struct{}{}
							<-block // "crashes" while sending
							return nil, context.Canceled
						}
						return map[string]any{"number": 1}, nil
					},
					Reconcile: func(_ context.Context, c *Call, s time.Time) (any, bool, error) {
						mu.Lock()
						defer mu.Unlock()
						since = append(since, s)
						return nil, false, nil
					},
				}
				loc := time.FixedZone("X", -(5*3600 + 30*60))
				t0 := time.Date(2026, 3, 4, 5, 6, 7, nanos, time.UTC)
				mk := func(owner string, now func() time.Time, alive func(string) bool) Handler {
					m := &Idempotency{Store: st,
						Policy: idempotency.Policy{Window: time.Hour, KeyTTL: time.Hour, Lease: 2 * time.Second},
						Owner:  owner, Alive: alive, Now: now, Audit: &memSink{}, Log: discard, Heartbeat: time.Hour}
					return m.Middleware()(Final)
				}
				args := map[string]any{"repo": "acme/app", "title": "t", "idempotencyKey": key}
				a := mk(idempotency.OwnerID()+"-A", func() time.Time { return t0 }, func(string) bool { return true })
				aDone := make(chan struct{})
				go func() { defer close(aDone); _, _ = a(ctx, NewCall(tool, args, "t", "sandbox", "c1")) }()
				<-started
				// B: another process, clock stepped back 30s then past the lease, in another zone.
				b := mk(idempotency.OwnerID()+"-B", func() time.Time { return t0.Add(3 * time.Second).In(loc) }, func(string) bool { return false })
				_, err := b(ctx, NewCall(tool, args, "t", "sandbox", "c2"))
				close(block)
				<-aDone
				require.NoError(t, err)
				mu.Lock()
				defer mu.Unlock()
				require.Len(t, ran, 2)
				require.Len(t, since, 1)
				assert.Equal(t, ran[0].Unix(), ran[1].Unix(), "marker claim of the takeover: %v vs %v", ran[0], ran[1])
				assert.Equal(t, ran[0].Unix(), since[0].Unix(), "reconcile since: %v vs %v", ran[0], since[0])
			})
		}
	}
}
