package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), FileName), Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// jobIDs reads the delivery ids named by every batch job.
func jobIDs(t *testing.T, db *DB) []int64 {
	t.Helper()
	rows, err := db.read.Query(`SELECT json(args) FROM river_job WHERE kind = ?`, BatchArgs{}.Kind())
	require.NoError(t, err)
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var a BatchArgs
		require.NoError(t, json.Unmarshal(raw, &a))
		ids = append(ids, a.IDs...)
	}
	return ids
}

func TestIntakeStoresEachKeyOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	var commits [][]Receipt
	var mu sync.Mutex
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3), Receipts: func(_ context.Context, rs []Receipt) error {
		mu.Lock()
		defer mu.Unlock()
		commits = append(commits, rs)
		return nil
	}})

	const keys, copies = 200, 3
	var wg sync.WaitGroup
	results := make(chan Enqueued, keys*copies)
	for c := 0; c < copies; c++ {
		for k := 0; k < keys; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := in.Enqueue(context.Background(), NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:%d", k),
					EventType: "push", Payload: []byte(`{"n":` + fmt.Sprint(k) + `}`)})
				assert.NoError(t, err)
				results <- res
			}()
		}
	}
	wg.Wait()
	in.Close()
	close(results)

	fresh := map[int64]int{}
	dups := 0
	for r := range results {
		if r.Duplicate {
			dups++
		} else {
			fresh[r.ID]++
		}
	}
	assert.Len(t, fresh, keys, "each key stored once")
	assert.Equal(t, keys*(copies-1), dups, "every other copy answered as a duplicate")
	ids := jobIDs(t, db)
	assert.ElementsMatch(t, mapKeys(fresh), ids, "one job entry per stored delivery, none for duplicates")
	batches, items := in.Stats()
	assert.Equal(t, int64(keys*copies), items)
	assert.Less(t, batches, int64(keys*copies), "concurrent deliveries shared commits")
	n := 0
	for _, c := range commits {
		n += len(c)
	}
	assert.Equal(t, keys*copies, n, "Receipts saw every delivery")
	_, err = in.Enqueue(context.Background(), NewDelivery{Key: "late"})
	assert.ErrorIs(t, err, ErrClosed)
}

func TestIntakeReportsReceiptErrorsToTheBatch(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3), Receipts: func(context.Context, []Receipt) error {
		return fmt.Errorf("audit log full")
	}})
	defer in.Close()
	_, err = in.Enqueue(context.Background(), NewDelivery{Provider: "slack", Key: "slack:Ev1", EventType: "event_callback", Payload: []byte(`{}`)})
	require.ErrorContains(t, err, "audit log full")
	d, err := db.Find(context.Background(), "slack:Ev1")
	require.NoError(t, err, "the delivery is stored all the same; a retry finds it")
	assert.Equal(t, StatePending, d.State)
}

func mapKeys(m map[int64]int) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRescueOrphansReleasesOnlyJobsOfDeadWorkers(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	dir := t.TempDir()
	live, err := NewWorkerLock(dir)
	require.NoError(t, err)
	defer live.Release()
	dead, err := NewWorkerLock(dir)
	require.NoError(t, err)
	deadID := dead.ID
	require.NoError(t, dead.f.Close()) // the process "died": its lock is gone, its file stays

	insert := func(owner string) int64 {
		var id int64
		require.NoError(t, db.Tx(context.Background(), func(tx *sql.Tx) error {
			res, err := client.InsertTx(context.Background(), tx, DeliveryArgs{ID: 1}, nil)
			if err != nil {
				return err
			}
			id = res.Job.ID
			_, err = tx.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_by = json_array(?) WHERE id = ?`, owner, id)
			return err
		}))
		return id
	}
	liveJob, deadJob, strangerJob := insert(live.ID), insert(deadID), insert("some-other-host")

	n, err := db.RescueOrphans(context.Background(), AliveIn(dir), nil)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	state := func(id int64) string {
		var s string
		require.NoError(t, db.read.QueryRow(`SELECT state FROM river_job WHERE id = ?`, id).Scan(&s))
		return s
	}
	assert.Equal(t, "running", state(liveJob), "a live worker keeps its job")
	assert.Equal(t, "available", state(deadJob))
	assert.Equal(t, "available", state(strangerJob), "a client without a lock file is taken for dead")
	assert.NoFileExists(t, filepath.Join(dir, deadID+".lock"))
}

func TestRequeueRefusesAPendingDelivery(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	res, err := in.Enqueue(context.Background(), NewDelivery{Provider: "github", Key: "github:1:x", EventType: "push", Payload: []byte(`{}`)})
	require.NoError(t, err)
	in.Close()
	d, err := db.Find(context.Background(), fmt.Sprint(res.ID))
	require.NoError(t, err)
	err = db.Tx(context.Background(), func(tx *sql.Tx) error { return db.Requeue(context.Background(), tx, d) })
	assert.ErrorIs(t, err, ErrPending)
}

func TestPruneDeletesOnlyOldProcessedDeliveries(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	var ids []int64
	for i := range 3 {
		res, err := in.Enqueue(context.Background(), NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:p%d", i), EventType: "push", Payload: []byte(`{}`)})
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	in.Close()
	require.NoError(t, db.Tx(context.Background(), func(tx *sql.Tx) error {
		if _, err := db.MarkProcessed(context.Background(), tx, ids[0], "processed"); err != nil {
			return err
		}
		return db.RecordFailure(context.Background(), tx, ids[1], "boom", true)
	}))
	n, err := db.Prune(context.Background(), time.Now().Add(time.Minute), 100)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "only the processed one goes")
	left, err := db.List(context.Background(), "", 0)
	require.NoError(t, err)
	require.Len(t, left, 2)
	assert.Equal(t, StateDead, left[0].State, "a dead letter stays for its replay")
	assert.Equal(t, StatePending, left[1].State)
	n, err = db.Prune(context.Background(), time.Now().Add(-time.Hour), 100)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// waitFor waits for ch to deliver or close, for at most 30 s: a change that
// never reaches the point a test holds (a sync skipped, say) fails there,
// naming what was awaited, instead of at go test's timeout (as mutation
// testing found).
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("waited 30 s for %s", what)
	}
	var zero T
	return zero
}

func newIntake(t *testing.T, db *DB, opts IntakeOptions) *Intake {
	t.Helper()
	in, err := NewIntake(context.Background(), db, opts)
	require.NoError(t, err)
	return in
}

func TestIntakeIsBusyWhileADeliveryAwaitsItsAnswer(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	inside, release := make(chan struct{}), make(chan struct{})
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3), Receipts: func(context.Context, []Receipt) error {
		close(inside)
		<-release // the batch is being synced and audited
		return nil
	}})
	defer in.Close()
	assert.False(t, in.Busy(), "idle before any delivery")
	done := make(chan error, 1)
	go func() {
		_, err := in.Enqueue(context.Background(), NewDelivery{Provider: "slack", Key: "slack:Ev1", EventType: "event_callback", Payload: []byte(`{}`)})
		done <- err
	}()
	waitFor(t, inside, "the batch's receipts")
	assert.True(t, in.Busy(), "a delivery is taken in and not yet answered")
	close(release)
	require.NoError(t, <-done)
	assert.False(t, in.Busy(), "idle once it is answered")
}
