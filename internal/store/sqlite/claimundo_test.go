package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// A claim taken back (its sync not confirmed) puts back the expired row in
// doubt it replaced, the only trace of a call that may have acted (found in
// review: it was deleted).
//
// A claim that replaced an expired row in doubt (Acquired, ReplacedInDoubt:
// the only trace of an earlier call that may have acted) and is then taken
// back because its sync did not finish must not delete that trace: the undo
// is Release (DELETE), so the next call with the key is Acquired afresh
// with ReplacedInDoubt nil, and chain never names the earlier attempt.
// (Before the take-back the row stayed claimed, then was reconciled.)
func TestATakenBackClaimKeepsTheInDoubtRowItReplaced(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{Synchronous: "FULL"})
	bg := context.Background()
	alive := func(o string) bool { return o != "A" }
	now := time.Now()
	t0 := now.Add(-2 * time.Hour)
	// An earlier call by A, two hours ago, in doubt and expired now.
	_, out, err := db.Keys().Claim(bg, walClaim("k1", "A", t0), t0, alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	require.NoError(t, db.Keys().MarkInDoubt(bg, "k1", "A"))

	// B's claim waits behind another claim's WAL sync, and its context
	// ends: it is taken back.
	db.w.wal.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	_, _, err = db.Keys().Claim(ctx, walClaim("k1", "B", now), now, alive)
	cancel()
	<-db.w.wal.sem
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)

	row, found, err := db.Keys().Get(bg, "k1")
	require.NoError(t, err)
	t.Logf("after the take-back: found=%v row=%+v", found, row)

	// The retry: it must still learn that an earlier call may have acted.
	got, out, err := db.Keys().Claim(bg, walClaim("k1", "C", now), now, alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	assert.NotNil(t, got.ReplacedInDoubt, "the earlier in-doubt call (owner A) was deleted by the take-back, never named")
}
