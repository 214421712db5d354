package worker

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// A job on its last River attempt still running when the process is told
// to stop (SIGTERM: Stop for 30 s, then StopAndCancel for 5 s) and that has
// not returned by then is handed back by the stopping process (HandBack),
// its attempt not counted, as River counts a stop; the next worker runs it.
// Found in review: it was left 'running', the next worker's rescue counted
// the stop as a failed attempt, and on the last one the delivery was
// dead-lettered unrun.
func TestAJobStillRunningWhenAStopGivesUpIsHandedBackUncounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const maxAttempts = 3
	b := setupStopped(t, maxAttempts)
	id, jobID := b.slackDeliveryWithJob(t, "slack:EvStopped")
	// Its last River attempt, running in a process whose stop ran out of
	// time: that process hands it back before it exits.
	require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE river_job SET state = 'running', attempt = max_attempts,
			attempted_at = datetime('now', 'subsec'), attempted_by = json_array('saas-mcp-1-stopped') WHERE id = ?`, jobID)
		return err
	}))
	n, err := b.db.HandBack(ctx, "saas-mcp-1-other")
	require.NoError(t, err)
	require.Zero(t, n, "another client's running job is left alone")
	n, err = b.db.HandBack(ctx, "saas-mcp-1-stopped")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = b.db.RescueOrphans(ctx, func(string) bool { return false }, func(int) time.Duration { return time.Hour })
	require.NoError(t, err)
	require.Zero(t, n, "nothing left for the rescue")
	require.NoError(t, b.client.Start(ctx))
	deadline := time.Now().Add(10 * time.Second)
	var d queue.Delivery
	for time.Now().Before(deadline) {
		ds, err := b.db.Get(ctx, []int64{id})
		require.NoError(t, err)
		d = ds[0]
		if d.State != queue.StatePending {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, queue.StateProcessed, d.State, "dead-lettered unrun? %s", d.LastError)
	assert.Equal(t, []string{audit.StatusProcessed}, b.sink.statuses("slack:EvStopped"))
}
