package worker

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// A pending delivery is replayed only when no job will run it any more (its
// job gave up without recording an outcome, and the worker could not
// dead-letter it): one with a queued job is refused, without an audit
// record, since a second job would run it twice.
func TestReplayTakesAPendingDeliveryOnlyWhenNoJobWillRunIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		job     func(id int64) river.JobArgs // nil: no job names the delivery
		replays bool
	}{
		{"a pending delivery whose batch job is queued is refused",
			func(id int64) river.JobArgs { return queue.BatchArgs{IDs: []int64{id}} }, false},
		{"a pending delivery whose retry job is queued is refused",
			func(id int64) river.JobArgs { return queue.DeliveryArgs{ID: id} }, false},
		{"a pending delivery with no job left is replayed and processed", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupStopped(t, 3)
			key := "github:1:strand"
			res, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
				Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/app"}}`)})
			require.NoError(t, err)
			if tt.job != nil {
				_, err := b.client.Insert(ctx, tt.job(res.ID), &river.InsertOpts{Queue: queue.QueueName})
				require.NoError(t, err)
			}

			replayed, err := b.wk.Replay(ctx, b.client, []int64{res.ID}, nil)
			if !tt.replays {
				require.ErrorIs(t, err, queue.ErrPending)
				assert.Empty(t, replayed)
				assert.Empty(t, b.sink.statuses(key), "a refused replay is not audited")
				assert.Equal(t, 0, b.find(t, res.ID).Replays)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []int64{res.ID}, replayed)
			recs := b.sink.records(key)
			require.Len(t, recs, 1)
			assert.Equal(t, audit.StatusReplayed, recs[0].Status)
			assert.Equal(t, queue.StatePending, recs[0].Details["previousState"])
			require.NoError(t, b.client.Start(ctx))
			d := b.waitState(t, res.ID, queue.StateProcessed)
			assert.Equal(t, 1, d.Replays)
			assert.Equal(t, []string{audit.StatusReplayed, audit.StatusProcessed}, b.sink.statuses(key))
		})
	}
}

// otherWorker is a worker of a kind the webhook queue does not use.
type otherWorker struct {
	river.WorkerDefaults[otherArgs]
}

type otherArgs struct{}

func (otherArgs) Kind() string { return "other" }

func (otherWorker) Work(context.Context, *river.Job[otherArgs]) error { return nil }

// The "replayed" record is written before the replay commits, so that no
// replay commits unaudited. When the commit then fails, the trail must not
// leave it at "replayed": a "failed" record follows with the reason, and
// the delivery stays as it was.
func TestAReplayThatFailsToCommitIsAuditedAsFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &fakeLedger{failures: 3}, "sandbox", 3)
	key := "stripe:evt_replay"
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
		Payload: stripeEvent("evt_replay", false)})
	b.waitState(t, id, queue.StateDead)

	// A client whose workers do not include the webhook jobs refuses to
	// enqueue one, inside the replay's transaction.
	ws := river.NewWorkers()
	river.AddWorker(ws, &otherWorker{})
	other, err := b.db.NewRiver(queue.RiverConfig{Workers: ws})
	require.NoError(t, err)
	replayed, err := b.wk.Replay(ctx, other, []int64{id}, nil)
	require.ErrorContains(t, err, "enqueue")
	assert.Empty(t, replayed)

	recs := b.sink.records(key)
	require.GreaterOrEqual(t, len(recs), 2)
	last := recs[len(recs)-2:]
	assert.Equal(t, audit.StatusReplayed, last[0].Status)
	assert.Equal(t, audit.StatusFailed, last[1].Status, "the replay that did not happen says so")
	assert.Contains(t, last[1].Error, "enqueue")
	assert.Equal(t, "not done", last[1].Details["replay"])
	d := b.find(t, id)
	assert.Equal(t, queue.StateDead, d.State, "still a dead letter, to replay again")
	assert.Equal(t, 0, d.Replays)

	replayed, err = b.wk.Replay(ctx, b.client, []int64{id}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, replayed)
	b.waitFinished(t, replayed)
	assert.Equal(t, queue.StateProcessed, b.find(t, id).State)
}

// loseInPowerCut stores a delivery with key in the queue at path, then cuts
// the tail of its payload record, as a power cut does to a record written
// but never synced, hence never answered: the next intake on path recovers
// its row into a tombstone (see internal/queue/recover.go). It returns the
// delivery's id.
func loseInPowerCut(t *testing.T, path, key string) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := queue.Open(ctx, path, queue.Options{})
	require.NoError(t, err)
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	require.NoError(t, err)
	res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
		Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/lost"}}`)})
	require.NoError(t, err)
	in.Close()
	require.NoError(t, db.Close())
	segs, err := filepath.Glob(path + ".payloads/*.seg")
	require.NoError(t, err)
	require.Len(t, segs, 1)
	st, err := os.Stat(segs[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(segs[0], st.Size()-3))
	return res.ID
}

// A tombstone (a delivery whose record a power cut lost before it was
// answered) was never accepted: the provider saw no 202 and its retry is
// stored as a new delivery. Replaying it would only dead-letter a row with
// no payload, under a "replayed" record for a delivery that never was, so
// it is refused with that reason, unaudited and untouched, and the other
// deliveries of the same replay still run.
func TestReplayRefusesATombstoneAsNeverAccepted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), queue.FileName)
	lost := loseInPowerCut(t, path, "github:1:lost")
	b := setupStoppedAt(t, path, 3)
	require.Equal(t, 1, b.intake.Recovered().Tombstoned, "the power cut left a tombstone")
	tomb := b.find(t, lost)
	require.True(t, IsTombstone(tomb), "state %s, outcome %q", tomb.State, tomb.Outcome)
	res, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: "github:1:kept", EventType: "issues",
		Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/kept"}}`)})
	require.NoError(t, err)

	replayed, err := b.wk.Replay(ctx, b.client, []int64{lost, res.ID}, nil)
	require.ErrorIs(t, err, ErrNeverAccepted)
	assert.ErrorContains(t, err, "provider's retry")
	assert.Equal(t, []int64{res.ID}, replayed, "the other delivery is replayed")
	assert.Empty(t, b.sink.records(tomb.Key), "a refused replay is not audited")
	after := b.find(t, lost)
	assert.Equal(t, tomb, after, "the tombstone is left as it was")
}
