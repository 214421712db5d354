package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestARestoredRowInDoubtIsNotPrunedUnnamed: a call refused because the
// audit record naming the expired row in doubt it replaced could not be
// written puts that row back (Store.Restore), for a later call or the prune
// to name. The row is expired, and the audit log is what is failing: the
// prune must not delete a row it could not name. Found in review: the prune
// dropped the failed write and deleted the row, the only trace of a call
// that may have acted.
func TestARestoredRowInDoubtIsNotPrunedUnnamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
	require.NoError(t, err)
	defer db.Close()
	alive := func(string) bool { return true }

	// An earlier call (another process sharing DATA_DIR), in doubt, expired.
	claimedAt := time.Now().Add(-30 * time.Minute)
	_, out, err := db.Keys().Claim(ctx, idempotency.Claim{Key: "auto:sendMessage:abc", Tool: "sendMessage", ArgsHash: "h",
		Target: "C0GENERAL", Owner: "A", LeaseUntil: claimedAt.Add(5 * time.Minute), ExpiresAt: claimedAt.Add(10 * time.Minute)},
		claimedAt, alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	require.NoError(t, db.Keys().MarkInDoubt(ctx, "auto:sendMessage:abc", "A"))

	// A new call replaces it; naming it fails (disk full); the claim is
	// taken back with Restore, as chain's nameReplaced does.
	now := time.Now()
	row, out, err := db.Keys().Claim(ctx, idempotency.Claim{Key: "auto:sendMessage:abc", Tool: "sendMessage", ArgsHash: "h",
		Target: "C0GENERAL", Owner: "B", LeaseUntil: now.Add(5 * time.Minute), ExpiresAt: now.Add(10 * time.Minute)},
		now, alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	require.NotNil(t, row.ReplacedInDoubt)
	require.NoError(t, db.Keys().Restore(ctx, "B", *row.ReplacedInDoubt))

	// The audit log still cannot be written when the prune comes round.
	sink := &restartSink{fail: errors.New("disk full")}
	pruneOnce(ctx, db.Keys(), sink, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now(), true)
	require.Len(t, sink.recs, 1, "the prune tried to name the restored row")
	_, found, err := db.Keys().Get(ctx, "auto:sendMessage:abc")
	require.NoError(t, err)
	assert.True(t, found, "the restored row in doubt was pruned although the record naming it could not be written: "+
		"the only trace of a call that may have acted is gone, named nowhere")
}
