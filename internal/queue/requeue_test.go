package queue

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jobNaming stores a pending delivery (and another one beside it) with no
// job, then, unless kind is "", a job of that kind naming it, put in state;
// it returns the delivery's and the job's ids.
func jobNaming(t *testing.T, db *DB, kind, state string) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	var ids []int64
	for i := range 2 {
		res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:j%d", i), EventType: "push", Payload: []byte(`{}`)})
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	in.Close()
	id := ids[1]
	var args river.JobArgs
	switch kind {
	case "":
		return id, 0
	case BatchArgs{}.Kind():
		args = BatchArgs{IDs: ids}
	case DeliveryArgs{}.Kind():
		args = DeliveryArgs{ID: id}
	}
	res, err := client.Insert(ctx, args, &river.InsertOpts{Queue: QueueName})
	require.NoError(t, err)
	_, err = db.write.Exec(`UPDATE river_job SET state = ?,
		finalized_at = CASE WHEN ? IN ('cancelled', 'completed', 'discarded') THEN datetime('now') END WHERE id = ?`,
		state, state, res.Job.ID)
	require.NoError(t, err)
	return id, res.Job.ID
}

// A pending delivery is queued as long as a job that may still run names
// it, by its id (a retry or replay) or among its ids (a batch). Requeue
// refuses it then, as a second job would run it twice, and takes it once
// no such job is left: River discarded its job, or cleaned it up.
func TestRequeueTakesAPendingDeliveryOnlyWhenNoJobWillRunIt(t *testing.T) {
	t.Parallel()
	batch, single := BatchArgs{}.Kind(), DeliveryArgs{}.Kind()
	tests := []struct {
		name   string
		kind   string
		state  string
		queued bool
	}{
		{"a batch job waiting to run", batch, "available", true},
		{"a batch job running", batch, "running", true},
		{"a batch job waiting for its retry", batch, "retryable", true},
		{"a retry job scheduled", single, "scheduled", true},
		{"a retry job not yet ready", single, "pending", true},
		{"a batch job discarded", batch, "discarded", false},
		{"a retry job discarded", single, "discarded", false},
		{"a retry job cancelled", single, "cancelled", false},
		{"a batch job completed", batch, "completed", false},
		{"no job at all (cleaned up)", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openTest(t)
			id, _ := jobNaming(t, db, tt.kind, tt.state)
			queued, err := db.Queued(ctx, id, 0)
			require.NoError(t, err)
			assert.Equal(t, tt.queued, queued)
			stranded, err := db.Stranded(ctx)
			require.NoError(t, err)
			var strandedIDs []int64
			for _, d := range stranded {
				strandedIDs = append(strandedIDs, d.ID)
			}
			if tt.queued {
				assert.NotContains(t, strandedIDs, id, "a delivery a job will run is not stranded")
			} else {
				assert.Contains(t, strandedIDs, id, "a pending delivery no job will run is stranded")
			}

			before, ferr := db.Find(ctx, fmt.Sprint(id))
			require.NoError(t, ferr)
			err = db.Tx(ctx, func(tx *sql.Tx) error { return db.Requeue(ctx, tx, before) })
			d, ferr := db.Find(ctx, fmt.Sprint(id))
			require.NoError(t, ferr)
			if tt.queued {
				require.ErrorIs(t, err, ErrPending)
				assert.Equal(t, 0, d.Replays)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 1, d.Replays)
			assert.Equal(t, StatePending, d.State)
		})
	}
}

// A job that gives up on its last attempt dead-letters its pending
// deliveries, except one that another job will still run, and never one
// that is done.
func TestDeadLetterStrandedTakesOnlyDeliveriesNoOtherJobWillRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// other: a second, live retry job names the delivery too.
		other     bool
		processed bool
		want      bool
	}{
		{"a pending delivery only the giving-up job names is dead-lettered", false, false, true},
		{"a pending delivery another live job names is left to it", true, false, false},
		{"a processed delivery is left alone", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openTest(t)
			id, job := jobNaming(t, db, BatchArgs{}.Kind(), "running")
			if tt.other {
				client, err := db.NewRiver(RiverConfig{})
				require.NoError(t, err)
				_, err = client.Insert(ctx, DeliveryArgs{ID: id}, &river.InsertOpts{Queue: QueueName})
				require.NoError(t, err)
			}
			if tt.processed {
				require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
					_, err := db.MarkProcessed(ctx, tx, id, "processed")
					return err
				}))
			}
			var n int64
			require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
				var err error
				n, err = db.DeadLetterStrandedIDs(ctx, tx, []int64{id}, job, "its job ran out of attempts")
				return err
			}))
			assert.Equal(t, tt.want, n == 1)
			d, err := db.Find(ctx, fmt.Sprint(id))
			require.NoError(t, err)
			if tt.want {
				assert.Equal(t, StateDead, d.State)
				assert.Equal(t, "its job ran out of attempts", d.LastError)
				assert.Equal(t, 0, d.Attempts, "no attempt of the handler is counted")
			} else {
				assert.NotEqual(t, StateDead, d.State)
			}
		})
	}
}

// DeadLetterStrandedIDs dead-letters, in one statement, exactly the pending
// deliveries among ids that no live job names; the excepted job (the one
// giving up) does not count. One pass over the live jobs, not one per
// delivery: with 100 live batch jobs (25.6k ids) a give-up of 256
// deliveries held the write connection 15 ms, against 766 ms one by one.
func TestDeadLetterStrandedIDsTakesOnlyDeliveriesNoOtherJobWillRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	queued, job := jobNaming(t, db, DeliveryArgs{}.Kind(), "available") // queued-1 is named by no job
	free := queued - 1
	var n int64
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = db.DeadLetterStrandedIDs(ctx, tx, []int64{free, queued}, 0, "gave up")
		return err
	}))
	assert.EqualValues(t, 1, n)
	for id, want := range map[int64]string{free: StateDead, queued: StatePending} {
		d, err := db.Find(ctx, fmt.Sprint(id))
		require.NoError(t, err)
		assert.Equal(t, want, d.State, "delivery %d", id)
	}
	// The job giving up does not keep its own delivery alive.
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = db.DeadLetterStrandedIDs(ctx, tx, []int64{queued}, job, "gave up")
		return err
	}))
	assert.EqualValues(t, 1, n)
}
