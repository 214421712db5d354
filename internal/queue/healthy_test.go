package queue

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A receiver whose store refuses batches (SQLite failing, a full disk)
// answered every delivery 503 while /readyz said ready (found in review:
// only a sticky sync error made it fail). Since the rows are committed
// after the answer, a failing transaction refuses nothing: the deliveries
// are on disk, and the index stage retries. Healthy reports its failure
// while it lasts, within unhealthyFor, and a committed transaction clears
// it; Enqueue, which waits for the row, hears of the failure at once.
func TestTheIntakeIsUnhealthyWhileItsTransactionsFail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), FileName), Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var fail atomic.Bool
	in := newIntake(t, db, IntakeOptions{MaxBatch: 1, Jobs: func(context.Context, *sql.Tx, []int64) error {
		if fail.Load() {
			return errors.New("disk I/O error")
		}
		return nil
	}})
	in.indexRetry = time.Millisecond
	t.Cleanup(in.Close)
	now := time.Now()
	var offset atomic.Int64
	in.hmu.Lock()
	in.clock = func() time.Time { return now.Add(time.Duration(offset.Load())) }
	in.hmu.Unlock()
	put := func(key string) error {
		_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)})
		return err
	}

	require.NoError(t, put("github:1:a"))
	assert.NoError(t, in.Healthy())

	fail.Store(true)
	err = put("github:1:b")
	require.ErrorIs(t, err, ErrCommittedUnconfirmed, "Enqueue hears its row is not committed yet")
	assert.ErrorContains(t, in.Healthy(), "disk I/O error")
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:c", EventType: "push", Payload: []byte(`{}`)}),
		"a delivery is still taken in: its record is on disk")
	assert.False(t, in.Settled(), "b and c wait for their transaction")
	offset.Store(int64(unhealthyFor))
	require.Eventually(t, func() bool { return in.Healthy() != nil }, 5*time.Second, time.Millisecond,
		"each failed try is noted anew: the failure lasts")

	fail.Store(false)
	require.Eventually(t, in.Settled, 5*time.Second, time.Millisecond)
	assert.NoError(t, in.Healthy(), "a committed transaction clears it")
	for _, key := range []string{"github:1:b", "github:1:c"} {
		_, err := db.Find(ctx, key)
		require.NoError(t, err, "%s is stored once the database works again", key)
	}
}

// The receiver's /readyz is db.Ping, then the audit log, then
// Intake.Healthy. A delivery refused in the sync stage for a reason that
// is not sticky (the payload directory cannot be synced: segments.Sync
// puts created back and fails every later sync the same way) is refused
// with 503 on every delivery, while neither Ping nor Healthy saw it:
// Healthy heard only the writer (found in review). It hears the sync
// stage's refusals now.
func TestTheIntakeIsUnhealthyWhileItsSyncStageRefusesEveryDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path, Options{}) // FULL: the payloads are synced
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.segs.syncDirOf = func(string) error { return errors.New("input/output error") }
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	t.Cleanup(in.Close)
	for i, key := range []string{"github:1:a", "github:1:b", "github:1:c"} {
		err := in.Accept(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)})
		require.Error(t, err, "delivery %d is refused (503)", i)
		require.ErrorIs(t, err, ErrCommittedUnconfirmed)
	}
	assert.Error(t, errors.Join(db.Ping(ctx), in.Healthy()),
		"every delivery is refused with 503, and /readyz (db.Ping, then Intake.Healthy) says ready")
	assert.True(t, in.Settled(), "a refused delivery waits for no transaction")
	_, err = db.Find(ctx, "github:1:a")
	assert.ErrorIs(t, err, ErrNotFound, "a delivery refused by the sync stage is not indexed")
}

// A writer or sync stuck on the disk refuses every delivery by timeout
// (the receiver's wait runs out, 503) without any batch failing: that
// counts as refused for Healthy too (found in review), until a batch is
// stored again. A delivery whose sender merely gave up (its context
// cancelled, not timed out) does not.
func TestTheIntakeIsUnhealthyWhileDeliveriesTimeOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), FileName), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	hold := holdSyncs(db)
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	t.Cleanup(in.Close)
	release := make(chan struct{})
	hold.gate <- release
	put := func(ctx context.Context, key string) error {
		_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)})
		return err
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() { <-hold.entered; cancel() }()
	require.ErrorIs(t, put(cctx, "github:1:gave-up"), context.Canceled)
	assert.NoError(t, in.Healthy(), "a sender that gave up is not a refusal")

	tctx, tcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer tcancel()
	require.ErrorIs(t, put(tctx, "github:1:timed-out"), context.DeadlineExceeded)
	assert.ErrorContains(t, in.Healthy(), "did not finish before its deadline")

	close(release)
	require.NoError(t, put(ctx, "github:1:after"))
	assert.NoError(t, in.Healthy(), "a stored batch clears it")
}
