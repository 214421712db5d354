package chain

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestTheToolGetsTheClaimOfItsKeysLife: Call.ClaimedAt names the life of
// the key, for the tool to write beside the key into its effect. A retry of
// a key in doubt keeps the first attempt's claim (and Reconcile gets the
// same time as since), so the effect it looks for names it; once the key
// has expired, the same call is a new life with a new claim, so an effect
// of the earlier life can be told from its own. The store is the real
// SQLite one, whose times are nanoseconds.
func TestTheToolGetsTheClaimOfItsKeysLife(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	var (
		mu    sync.Mutex
		clock = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
		ran   []time.Time // Call.ClaimedAt as each Run saw it
		since []time.Time // since as each Reconcile got it
		fail  = true
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Run: func(_ context.Context, c *Call) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, c.ClaimedAt)
			if fail {
				fail = false
				return nil, &provider.Error{Provider: "github", Op: "create issue", Status: 502, InDoubt: true}
			}
			return map[string]any{"number": len(ran)}, nil
		},
		Reconcile: func(_ context.Context, c *Call, s time.Time) (any, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			assert.True(t, s.Equal(c.ClaimedAt), "Reconcile's since is the call's claim")
			since = append(since, s)
			return nil, false, nil
		},
	}
	idem := &Idempotency{
		Store:  db.Keys(),
		Policy: idempotency.Policy{Window: 10 * time.Second, KeyTTL: 10 * time.Second, Lease: time.Minute},
		Owner:  idempotency.OwnerID(), Alive: idempotency.Alive, Now: now, Audit: &memSink{}, Log: discard,
	}
	h := idem.Middleware()(Final)
	args := map[string]any{"repo": "acme/app", "title": "t", "idempotencyKey": "k"}
	first := now().Truncate(time.Microsecond) // claims are kept to the microsecond

	_, err = h(ctx, NewCall(tool, args, "t", "sandbox", "c1"))
	require.True(t, provider.InDoubt(err), "%v", err)
	advance(3 * time.Second)
	_, err = h(ctx, NewCall(tool, args, "t", "sandbox", "c2"))
	require.NoError(t, err, "the retry reconciles, finds nothing, and sends")

	advance(20 * time.Second) // the key has expired: the same call is a new life
	second := now().Truncate(time.Microsecond)
	_, err = h(ctx, NewCall(tool, args, "t", "sandbox", "c3"))
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, ran, 3)
	assert.True(t, ran[0].Equal(first), "a new key: this call's claim, %v", ran[0])
	assert.True(t, ran[1].Equal(first), "a retry of a key in doubt: the first attempt's claim, %v", ran[1])
	require.Len(t, since, 1, "the retry reconciled")
	assert.True(t, since[0].Equal(first))
	assert.True(t, ran[2].Equal(second), "an expired key claimed anew: a new claim, %v", ran[2])
}
