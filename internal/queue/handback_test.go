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

// HandBack finds a job River itself fetched, whose attempted_by River keeps
// as JSONB (found in review: it matched none).
//
// HandBack must find a job River itself fetched: River's SQLite driver
// writes attempted_by as JSONB (a BLOB), which json_valid(X) with its
// default flags (RFC-8259 text) reports as not valid, so the WHERE clause
// matches no job River ever ran. The existing handback test writes
// attempted_by with json_array (TEXT), which hides this.
func TestHandBackFindsAJobRiverFetched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	dir := t.TempDir()
	lock, err := NewWorkerLock(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lock.Release() })
	w := &heldDelivery{started: make(chan struct{}, 1), release: make(chan struct{})}
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	c, err := db.NewRiver(RiverConfig{Workers: ws, ID: lock.ID, FetchPollInterval: 5 * time.Millisecond})
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

	var typ, by string
	var valid int
	require.NoError(t, db.read.QueryRow(`SELECT typeof(attempted_by), json(attempted_by), json_valid(attempted_by) FROM river_job WHERE id = ?`, job).
		Scan(&typ, &by, &valid))
	t.Logf("attempted_by as River stored it: typeof=%s json=%s json_valid=%d", typ, by, valid)

	n, err := db.HandBack(ctx, lock.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the running job River fetched for this client (attempted_by %s, %s) is handed back", typ, by)
}
