package e2e

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestACallCancelledWhileItsClaimWaitsForTheStoreIsRejectedNotBlamedOnTheStore:
// with two sessions on one DATA_DIR, a claim waits for the writers' lock
// (another process committing). The client cancels the call meanwhile
// (notifications/cancelled). Nothing was claimed or sent; the chain's own
// rule for a call cancelled before its claim is a "rejected" record saying
// the client cancelled it. The call's terminal audit record was
// "failed" with "idempotency store cannot be written, so nothing was sent
// ... take write lock: context canceled", blaming a healthy store: the log
// explains the outcome with a false cause (found in review, in chaos runs;
// also as "wait for write connection: context canceled").
func TestACallCancelledWhileItsClaimWaitsForTheStoreIsRejectedNotBlamedOnTheStore(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(nil))
	structured(t, h.call(createTicketTool.name, createTicketTool.args("warm")))

	// Another writer holds the store's write lock, as a second serve's
	// commit (or a worker's burst) does for a moment.
	lock, err := os.OpenFile(filepath.Join(h.vars["DATA_DIR"], "state.db.lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	defer lock.Close()
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err = try(ctx, h.session, createTicketTool.name, createTicketTool.args("cancelled"))
	require.Error(t, err, "the client cancelled")
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_UN))

	var term *audit.Record
	waitFor(t, 5*time.Second, "the cancelled call's terminal record", func() bool {
		for _, r := range h.records() {
			if r.IdempotencyKey == "key-cancelled" && isTerminal(r.Status) {
				term = &r
				return true
			}
		}
		return false
	})
	assert.Empty(t, h.fake.GitHubIssues("acme/cancelled"), "nothing was sent")
	assert.NotContains(t, term.Error, "store cannot be written", "the store is healthy; the client cancelled")
	assert.Equal(t, audit.StatusRejected, term.Status, "a call cancelled before its claim is rejected, as the chain does when the cancel comes first: %s", term.Error)
}
