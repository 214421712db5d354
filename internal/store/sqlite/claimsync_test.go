package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// A claim must be on disk before anything is sent (README, "How"): with
// STORE_SYNC=FULL, Claim's statements run with PRAGMA synchronous FULL,
// both for a new key and for one taken over (the transaction path), while
// the bookkeeping after the send does not wait for a sync.
func TestClaimRunsSyncedInAFullStore(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{Synchronous: "FULL"})
	k := db.Keys()
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	want := idempotency.Claim{Key: "k1", Tool: "createTicket", ArgsHash: "h", Target: "o/r", Owner: "a",
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}

	// A write that does not ask for a sync first, so the claim must switch.
	require.NoError(t, db.w.do(ctx, false, func(context.Context) error { return nil }))
	require.Equal(t, "NORMAL", db.w.mode)
	_, out, err := k.Claim(ctx, want, now, func(string) bool { return true })
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	assert.Equal(t, "FULL", db.w.mode, "a new key's claim was not synced")

	require.NoError(t, k.MarkInDoubt(ctx, "k1", "a"))
	assert.Equal(t, "NORMAL", db.w.mode, "marking in doubt waits for a sync it does not need")

	// The key in doubt, its owner gone: the retry reacquires it in a transaction.
	want.Owner = "b"
	_, out, err = k.Claim(ctx, want, now.Add(time.Second), func(string) bool { return false })
	require.NoError(t, err)
	require.Equal(t, idempotency.Reacquired, out)
	assert.Equal(t, "FULL", db.w.mode, "a reacquired claim was not synced")
}
