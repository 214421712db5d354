package queue

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A receiver whose store refuses batches (SQLite failing, a full disk)
// answers every delivery 503 while /readyz said ready (found in review:
// only a sticky sync error made it fail). Healthy now reports the last
// refused batch for unhealthyFor, or until a batch is stored again.
func TestTheIntakeIsUnhealthyWhileItsBatchesAreRefused(t *testing.T) {
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
	require.Error(t, put("github:1:b"))
	assert.ErrorContains(t, in.Healthy(), "disk I/O error")
	offset.Store(int64(unhealthyFor - time.Second))
	assert.Error(t, in.Healthy(), "still within the window")
	offset.Store(int64(unhealthyFor))
	assert.NoError(t, in.Healthy(), "an old refusal no longer counts")

	require.Error(t, put("github:1:c"))
	assert.Error(t, in.Healthy())
	fail.Store(false)
	require.NoError(t, put("github:1:d"))
	assert.NoError(t, in.Healthy(), "a stored batch clears it")
}

// The receiver's /readyz is db.Ping, then the audit log, then
// Intake.Healthy. A delivery refused in the sync stage for a reason that
// is not sticky (the payload directory cannot be synced: segments.Sync
// puts created back and fails every later sync the same way) is refused
// with 503 on every delivery, while neither Ping nor Healthy sees it:
// Healthy heard only the writer's commit, which succeeded (found in
// review). It hears the sync stage's refusals now.
func TestTheIntakeIsUnhealthyWhileItsSyncStageRefusesEveryDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path, Options{}) // FULL: the payloads are synced
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var removed atomic.Bool
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error {
		if removed.CompareAndSwap(false, true) {
			// The directory's fsync fails from now on (an EIO on the
			// directory, here: it is gone); the open segment still takes writes.
			return os.RemoveAll(path + ".payloads")
		}
		return nil
	}})
	t.Cleanup(in.Close)
	for i, key := range []string{"github:1:a", "github:1:b", "github:1:c"} {
		_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)})
		require.Error(t, err, "delivery %d is refused (503)", i)
		require.ErrorIs(t, err, ErrCommittedUnconfirmed)
	}
	assert.Error(t, errors.Join(db.Ping(ctx), in.Healthy()),
		"every delivery is refused with 503, and /readyz (db.Ping, then Intake.Healthy) says ready")
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
