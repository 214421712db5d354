package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyTree copies the regular files under src to dst: what a process
// killed at this moment leaves on disk (everything it wrote is in the files,
// synced or not).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	}))
}

// openLive opens a database under dir/live; killed copies it as a process
// killed at this moment leaves it, and opens the copy.
func openLive(t *testing.T) (killed func() *DB, db *DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "live", FileName)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o750))
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return func() *DB {
		crashed := filepath.Join(dir, "crashed")
		copyTree(t, filepath.Dir(path), crashed)
		db2, err := Open(ctx, filepath.Join(crashed, FileName), Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db2.Close() })
		return db2
	}, db
}

// Accept answers once the delivery's record is synced, before its row is
// committed. A process killed between the two leaves the record and no
// row: the next start rebuilds the delivery from its record, queues its
// job and gives its receipt (Recovered), so an accepted delivery is never
// lost.
func TestAnAcceptedDeliveryWhoseTransactionNeverRanIsRebuiltAtTheNextStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	killed, db := openLive(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	}})
	t.Cleanup(func() {
		close(release)
		in.Close()
	})

	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:kept", EventType: "push",
		Target: "acme/app", Payload: []byte(`{"kept":true}`)}), "answered before its transaction")
	waitFor(t, entered, "the transaction")
	assert.False(t, in.Settled(), "its row is not committed")

	db2 := killed() // the process is killed here
	client, err := db2.NewRiver(RiverConfig{})
	require.NoError(t, err)
	var receipts []Receipt
	in2 := newIntake(t, db2, IntakeOptions{Jobs: RiverInserter(client, 3), Receipts: func(_ context.Context, rs []Receipt) error {
		receipts = append(receipts, rs...)
		return nil
	}})
	defer in2.Close()
	assert.Equal(t, 1, in2.Recovered().Reinserted)
	require.Len(t, receipts, 1)
	assert.True(t, receipts[0].Recovered)
	d, err := db2.Find(ctx, "github:1:kept")
	require.NoError(t, err, "rebuilt from its record")
	assert.Equal(t, StatePending, d.State)
	ds, err := db2.Load(ctx, []int64{d.ID})
	require.NoError(t, err)
	assert.JSONEq(t, `{"kept":true}`, string(ds[0].Payload))
	jobs, err := db2.JobCounts(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, jobs["available"], "and its job queued")
}

// Under load the index stage puts the deliveries synced in the last few
// milliseconds into one transaction: there are fewer transactions than
// batches, and every delivery is stored once with one receipt.
func TestDeliveriesSyncedTogetherShareATransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	var mu sync.Mutex
	receipts := map[string]int{}
	in := newIntake(t, db, IntakeOptions{MaxBatch: 2, Jobs: RiverInserter(client, 3), Receipts: func(_ context.Context, rs []Receipt) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			receipts[r.Delivery.Key]++
		}
		return nil
	}})
	t.Cleanup(in.Close)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:s%d", i), EventType: "push", Payload: []byte(`{}`)}))
		}()
	}
	wg.Wait()
	require.Eventually(t, in.Settled, 10*time.Second, time.Millisecond)
	batches, items := in.Stats()
	assert.Equal(t, int64(n), items)
	assert.Less(t, in.Commits(), batches, "transactions are shared by batches")
	c, err := db.Counts(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, c[StatePending])
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, receipts, n)
	for k, times := range receipts {
		assert.Equal(t, 1, times, k)
	}
}

// Before the intake's first transaction commits there is no segment mark,
// and no row says which segments hold the records waiting for it: the
// prune must keep every segment then (it took the newest listed as the
// bound, and would have removed an older segment full of accepted
// deliveries not yet indexed).
func TestSegmentsAreKeptWhileNoTransactionHasCommitted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	in := newIntake(t, db, IntakeOptions{MaxBatch: 1, Jobs: func(context.Context, *sql.Tx, []int64) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	}})
	t.Cleanup(func() {
		close(release)
		in.Close()
	})
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:first", EventType: "push", Payload: []byte(`{}`)}))
	waitFor(t, entered, "the first transaction")
	db.segs.mu.Lock()
	db.segs.curSize = segmentMax // full: the next batch starts a new segment
	db.segs.mu.Unlock()
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:second", EventType: "push", Payload: []byte(`{}`)}))
	ns, err := db.segs.list()
	require.NoError(t, err)
	require.Len(t, ns, 2)

	bound, _, err := db.segmentsInUse(ctx)
	require.NoError(t, err)
	require.NoError(t, db.segs.removeBelow(bound, nil))
	after, err := db.segs.list()
	require.NoError(t, err)
	assert.Equal(t, ns, after, "both segments hold accepted deliveries")
}

// Close waits for the index stage, which retries a failing transaction;
// once Close is waiting it gives up after a few tries, and Close returns.
// The accepted deliveries are not lost: the mark did not move past their
// records, and the next start stores them from there.
func TestCloseGivesUpAFailingTransactionAndTheNextStartStoresItsDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error {
		return errors.New("disk I/O error")
	}})
	in.indexRetry = time.Millisecond
	for _, key := range []string{"github:1:g1", "github:1:g2"} {
		require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)}))
	}
	closed := make(chan struct{})
	go func() { in.Close(); close(closed) }()
	waitFor(t, closed, "Close")
	assert.True(t, in.Settled(), "given up, nothing is left waiting")
	_, err := db.Find(ctx, "github:1:g1")
	require.ErrorIs(t, err, ErrNotFound)

	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	again := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	defer again.Close()
	assert.Equal(t, 2, again.Recovered().Reinserted)
	for _, key := range []string{"github:1:g1", "github:1:g2"} {
		d, err := db.Find(ctx, key)
		require.NoError(t, err, key)
		assert.Equal(t, StatePending, d.State)
	}
}
