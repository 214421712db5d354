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

// A delivery whose handler kills the worker process (SIGKILL, out of
// memory) on every run: each rescue of its orphaned job counts the killed
// run as an attempt, hands the job back after the worker's backoff while
// attempts are left, and once they are used up the next worker
// dead-letters the delivery, audited, without running it again. Found in
// review: RescueOrphans handed the job back at once, whatever its attempt,
// so the workers crash-looped on it for ever and it never reached
// `webhooks dead`.
func TestADeliveryThatKillsItsWorkerEveryTimeIsDeadLetteredAfterItsAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const maxAttempts = 3
	b := setupStopped(t, maxAttempts)
	id, jobID := b.slackDeliveryWithJob(t, "slack:EvPoison")
	var maxJob int
	require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRow(`SELECT max_attempts FROM river_job WHERE id = ?`, jobID).Scan(&maxJob)
	}))
	dead := func(string) bool { return false }
	backoff := func(int) time.Duration { return time.Hour }
	// Every attempt is fetched (River counts attempt up) and kills its
	// worker; the next start rescues it.
	for attempt := 1; attempt <= maxJob; attempt++ {
		require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE river_job SET state = 'running', attempt = attempt + 1,
				attempted_at = datetime('now', 'subsec'), attempted_by = json_array('saas-mcp-1-killed') WHERE id = ?`, jobID)
			return err
		}))
		n, err := b.db.RescueOrphans(ctx, dead, backoff)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		var state string
		var waits float64
		require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
			return tx.QueryRow(`SELECT state, (julianday(scheduled_at) - julianday('now')) * 86400 FROM river_job WHERE id = ?`, jobID).
				Scan(&state, &waits)
		}))
		assert.Equal(t, "available", state)
		if attempt < maxJob {
			assert.Greater(t, waits, 3000.0, "attempt %d: a killed run with attempts left waits for the backoff", attempt)
		} else {
			assert.Less(t, waits, 1.0, "out of attempts: handed back at once, to be dead-lettered")
		}
	}
	require.NoError(t, b.client.Start(ctx))
	d := b.waitState(t, id, queue.StateDead)
	assert.Contains(t, d.LastError, "killed, or out of memory")
	assert.Equal(t, []string{audit.StatusDeadLettered}, b.sink.statuses("slack:EvPoison"),
		"dead-lettered, audited, and the handler not run again")
}

// slackDeliveryWithJob stores a Slack delivery under key and inserts its
// own job (not started: the client is stopped), returning both ids.
func (b *stoppedBundle) slackDeliveryWithJob(t *testing.T, key string) (id, jobID int64) {
	t.Helper()
	ctx := context.Background()
	res, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "slack", Key: key,
		EventType: "event_callback", Payload: []byte(`{}`)})
	require.NoError(t, err)
	require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := b.client.InsertTx(ctx, tx, queue.DeliveryArgs{ID: res.ID, Life: 1}, b.wk.deliveryOpts(time.Time{}))
		if err != nil {
			return err
		}
		jobID = r.Job.ID
		return nil
	}))
	return res.ID, jobID
}
