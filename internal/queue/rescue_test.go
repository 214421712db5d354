package queue

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two workers starting together (README: "any number may start together")
// both run RescueOrphans. Each reads the running jobs of dead clients, then
// releases them. If the other worker released a job and its River client
// fetched it in between (running again, now attempted by a live client), a
// late release would hand the job back while it runs: a second client
// fetches it and the batch's deliveries are processed twice at once. The
// alive check is where the interleaving is put: it runs after the read and
// before the release.
func TestRescueOrphansLeavesAJobThatALiveWorkerRescuedAndRunsAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	dir := t.TempDir()
	other, err := NewWorkerLock(dir) // the other worker process, alive
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Release() })

	var job int64
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := client.InsertTx(ctx, tx, BatchArgs{IDs: []int64{1, 2}}, nil)
		if err != nil {
			return err
		}
		job = res.Job.ID
		_, err = tx.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_by = json_array('saas-mcp-1-dead') WHERE id = ?`, job)
		return err
	}))

	alive := AliveIn(dir)
	raced := false
	hook := func(id string) bool {
		if !raced && id == "saas-mcp-1-dead" {
			raced = true
			// Meanwhile the other worker's RescueOrphans released the job and
			// its River client fetched it: running again, by a live client.
			n, err := db.RescueOrphans(ctx, alive, nil)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = db.write.Exec(`UPDATE river_job SET state = 'running', attempt = attempt + 1,
				attempted_by = json_insert(attempted_by, '$[#]', ?) WHERE id = ?`, other.ID, job)
			require.NoError(t, err)
		}
		return alive(id)
	}
	n, err := db.RescueOrphans(ctx, hook, nil)
	require.NoError(t, err)
	require.True(t, raced)
	assert.Zero(t, n)

	var state string
	require.NoError(t, db.read.QueryRow(`SELECT state FROM river_job WHERE id = ?`, job).Scan(&state))
	assert.Equal(t, "running", state, "a job a live worker is running must not be handed back for a second run")
}

// heldDelivery is a job worker that holds every job it is given until
// release is closed, announcing each on started.
type heldDelivery struct {
	river.WorkerDefaults[DeliveryArgs]
	started chan struct{}
	release chan struct{}
}

func (w *heldDelivery) Work(ctx context.Context, _ *river.Job[DeliveryArgs]) error {
	select {
	case w.started <- struct{}{}:
	default:
	}
	select {
	case <-w.release:
	case <-ctx.Done():
	}
	return nil
}

// RescueOrphans must read the client that runs a job from what River itself
// records: River keeps attempted_by as JSONB, not JSON text, and a job
// whose client cannot be read is taken for orphaned. Read as text, every
// job a live worker runs would be handed back on every rescue pass and run
// a second time beside the first.
func TestRescueOrphansReadsTheClientRunningAJobFromRiversOwnRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		clientID func(lock *WorkerLock) string
		want     int
	}{
		{"a job a live worker runs is kept", func(l *WorkerLock) string { return l.ID }, 0},
		{"a job of a worker that died is released", func(*WorkerLock) string { return lockPrefix + "1-gone" }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openTest(t)
			dir := t.TempDir()
			lock, err := NewWorkerLock(dir)
			require.NoError(t, err)
			t.Cleanup(func() { _ = lock.Release() })
			fetchedJob(t, db, tt.clientID(lock)) // running, attempted by the client

			n, err := db.RescueOrphans(ctx, AliveIn(dir), nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, n)
		})
	}
}

// fetchedJob inserts a delivery job and has a River client with clientID
// fetch it (so attempted_by is as River writes it) and hold it running
// until the test ends; it returns the job's id.
func fetchedJob(t *testing.T, db *DB, clientID string) int64 {
	t.Helper()
	ctx := context.Background()
	w := &heldDelivery{started: make(chan struct{}, 1), release: make(chan struct{})}
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	c, err := db.NewRiver(RiverConfig{Workers: ws, ID: clientID, FetchPollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	var job int64
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := c.InsertTx(ctx, tx, DeliveryArgs{ID: 1}, &river.InsertOpts{Queue: QueueName})
		if err == nil {
			job = r.Job.ID
		}
		return err
	}))
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		close(w.release)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	})
	waitFor(t, w.started, "River's fetch")
	return job
}

// HandBack finds a job River itself fetched, whose attempted_by River keeps
// as JSONB, not JSON text (found in review: the first version tested
// json_valid, false for JSONB, and matched no job River had run; its test
// had written attempted_by as text), and leaves other clients' jobs alone.
func TestHandBackFindsAJobRiverFetched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	dir := t.TempDir()
	lock, err := NewWorkerLock(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lock.Release() })
	fetchedJob(t, db, lock.ID)

	n, err := db.HandBack(ctx, lock.ID+"x")
	require.NoError(t, err)
	assert.Zero(t, n, "another client's job")
	n, err = db.HandBack(ctx, lock.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the running job River fetched for this client")
}
