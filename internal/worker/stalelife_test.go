package worker

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// staleLifeScenario builds, on a stopped bundle: a dead letter; the job of
// its first life that a killed worker left "running" (not yet handed back
// by any rescue); and the operator's replay of it, whose own job (Life 2)
// is returned. The orphan is of an earlier life: it will run nothing
// (queue.DeliveryArgs.Life), so it is no job that "will still run" the
// delivery.
func staleLifeScenario(t *testing.T, orphan func(id int64) river.JobArgs) (*stoppedBundle, int64, *rivertype.JobRow) {
	t.Helper()
	ctx := context.Background()
	b := setupStopped(t, 3)
	res, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "slack", Key: "slack:EvStale",
		EventType: "event_callback", Payload: []byte(`{}`)})
	require.NoError(t, err)
	id := res.ID
	require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := b.db.RecordFailure(ctx, tx, id, "boom", true); err != nil {
			return err
		}
		r, err := b.client.InsertTx(ctx, tx, orphan(id), b.wk.deliveryOpts(time.Time{}))
		if err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', 'subsec'),
			attempted_by = json_array('saas-mcp-1-dead') WHERE id = ?`, r.Job.ID)
		return err
	}))
	require.Equal(t, queue.StateDead, b.find(t, id).State)
	replayed, err := b.wk.Replay(ctx, b.client, []int64{id}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, replayed)
	jobs, err := b.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable))
	require.NoError(t, err)
	require.Len(t, jobs.Jobs, 1, "the replay's job")
	return b, id, jobs.Jobs[0]
}

var staleOrphans = []struct {
	name   string
	orphan func(id int64) river.JobArgs
}{
	{"the orphan is the intake's batch job", func(id int64) river.JobArgs { return queue.BatchArgs{IDs: []int64{id}} }},
	{"the orphan is a retry split off a batch", func(id int64) river.JobArgs { return queue.DeliveryArgs{ID: id, Life: 1} }},
}

// The replay's job fails its last River attempt before recording the
// delivery's outcome (the audit log down). giveUpIfLast must dead-letter
// the delivery: no other job will run it, the only other job naming it
// being of the earlier life. It counted that job as live ("another job
// will run it") and left the delivery pending with no job that runs it.
func TestAReplayJobGivingUpDeadLettersItsDeliveryDespiteAnOrphanOfAnEarlierLife(t *testing.T) {
	t.Parallel()
	for _, tc := range staleOrphans {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, id, replayJob := staleLifeScenario(t, tc.orphan)
			last := *replayJob
			last.Attempt, last.MaxAttempts = 4, 4
			require.Error(t, b.wk.settle(context.Background(), &last, []int64{id}, errors.New("audit: disk full"), nil))
			assert.Equal(t, queue.StateDead, b.find(t, id).State,
				"the replay's job gave up and only a job of an earlier life (which runs nothing) names the delivery")
		})
	}
}

// The replay's job ended without recording an outcome (River discarded it
// while the store failed, so it could not dead-letter the delivery). The
// delivery is stranded: pending, and the only job naming it is of an
// earlier life, which runs nothing. `webhooks dead` must list it.
func TestADeliveryNamedOnlyByAJobOfAnEarlierLifeIsListedAsStranded(t *testing.T) {
	t.Parallel()
	for _, tc := range staleOrphans {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, id, replayJob := staleLifeScenario(t, tc.orphan)
			discard(t, b, replayJob.ID)
			stranded, err := b.db.Stranded(context.Background())
			require.NoError(t, err)
			var ids []int64
			for _, d := range stranded {
				ids = append(ids, d.ID)
			}
			assert.Contains(t, ids, id, "pending, and no job will run it")
		})
	}
}

// Same stranded delivery: the operator's `webhooks replay <id>` must take
// it (README: only "a pending delivery that a job will still run is
// refused"). It was refused as pending already, because the orphan of the
// earlier life counts as queued; the replay command starts its worker, and
// so the orphans' rescue, only after replaying something.
func TestAReplayIsNotRefusedBecauseOfAJobOfAnEarlierLife(t *testing.T) {
	t.Parallel()
	for _, tc := range staleOrphans {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, id, replayJob := staleLifeScenario(t, tc.orphan)
			discard(t, b, replayJob.ID)
			replayed, err := b.wk.Replay(context.Background(), b.client, []int64{id}, nil)
			assert.NoError(t, err)
			assert.Equal(t, []int64{id}, replayed)
		})
	}
}

func discard(t *testing.T, b *stoppedBundle, job int64) {
	t.Helper()
	require.NoError(t, b.db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE river_job SET state = 'discarded', finalized_at = datetime('now', 'subsec') WHERE id = ?`, job)
		return err
	}))
}
