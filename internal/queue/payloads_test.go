package queue

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedThree stores three deliveries, one batch each, and returns their ids
// and the segment mark as it was after the first batch.
func seedThree(t *testing.T, path string, opts Options) ([]int64, segMark) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path, opts)
	require.NoError(t, err)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	var ids []int64
	var first segMark
	for i := range 3 {
		res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:t%d", i), EventType: "push",
			Target: "acme/app", ContentType: "application/json", ReceivedAt: time.UnixMilli(int64(1_700_000_000_000 + i)),
			Payload: []byte(fmt.Sprintf(`{"n":%d,"pad":"0123456789"}`, i))})
		require.NoError(t, err)
		require.False(t, res.Duplicate)
		ids = append(ids, res.ID)
		if i == 0 {
			first = readMark(t, db)
		}
	}
	in.Close()
	require.NoError(t, db.Close())
	return ids, first
}

func readMark(t *testing.T, db *DB) segMark {
	t.Helper()
	var m segMark
	require.NoError(t, db.read.QueryRow(`SELECT seg, seg_end, seg_durable FROM webhook_segment_mark`).Scan(&m.seg, &m.end, &m.durable))
	return m
}

// loseCommits simulates a power cut that lost the SQLite commits after the
// first batch: the later rows, their jobs and the mark's advance are gone;
// the segment keeps their records.
func loseCommits(t *testing.T, path string, keepID int64, m segMark) {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	require.NoError(t, db.Tx(context.Background(), func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM webhook_delivery WHERE id > ?`, keepID); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM river_job WHERE id > (SELECT min(id) FROM river_job)`); err != nil {
			return err
		}
		return setMark(context.Background(), tx, m)
	}))
}

func segFile(t *testing.T, path string) string {
	t.Helper()
	segs, err := filepath.Glob(path + ".payloads/*.seg")
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	return segs[0]
}

// countingWorker runs batch jobs and counts each delivery it processes.
type countingWorker struct {
	river.WorkerDefaults[BatchArgs]
	db   *DB
	mu   sync.Mutex
	runs map[string]int
}

func (w *countingWorker) Work(ctx context.Context, job *river.Job[BatchArgs]) error {
	ds, err := w.db.Load(ctx, job.Args.IDs)
	if err != nil {
		return err
	}
	return w.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if d.State != StatePending {
				continue
			}
			if _, err := w.db.MarkProcessed(ctx, tx, d.ID, "processed"); err != nil {
				return err
			}
			w.mu.Lock()
			w.runs[d.Key]++
			w.mu.Unlock()
		}
		return nil
	})
}

func TestRecoveryReinsertsDeliveriesWhoseSQLiteCommitWasLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	ids, first := seedThree(t, path, Options{})
	loseCommits(t, path, ids[0], first)

	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	w := &countingWorker{db: db, runs: map[string]int{}}
	ws := river.NewWorkers()
	river.AddWorker(ws, w)
	client, err := db.NewRiver(RiverConfig{Workers: ws, MaxWorkers: 2, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	var receipts []Receipt
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3), Receipts: func(_ context.Context, rs []Receipt) error {
		receipts = append(receipts, rs...)
		return nil
	}})
	assert.Equal(t, Recovery{Reinserted: 2}, in.Recovered())
	require.Len(t, receipts, 2)
	for i, r := range receipts {
		assert.True(t, r.Recovered)
		assert.Equal(t, fmt.Sprintf("github:1:t%d", i+1), r.Delivery.Key)
	}
	for i := 1; i < 3; i++ {
		d, err := db.Find(ctx, fmt.Sprintf("github:1:t%d", i))
		require.NoError(t, err, "rebuilt from its record")
		assert.Equal(t, time.UnixMilli(int64(1_700_000_000_000+i)), d.ReceivedAt, "with its original received_at")
		assert.Equal(t, "acme/app", d.Target)
		ds, err := db.Load(ctx, []int64{d.ID})
		require.NoError(t, err)
		assert.JSONEq(t, fmt.Sprintf(`{"n":%d,"pad":"0123456789"}`, i), string(ds[0].Payload))
	}
	res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:t2", EventType: "push", Payload: []byte(`{}`)})
	require.NoError(t, err)
	assert.True(t, res.Duplicate, "a retry of a rebuilt delivery is a duplicate")
	in.Close()

	require.NoError(t, client.Start(ctx))
	require.Eventually(t, func() bool {
		c, err := db.Counts(ctx)
		return err == nil && c[StateProcessed] == 3 // not require: this runs on testify's goroutine
	}, 10*time.Second, 20*time.Millisecond)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, client.Stop(sctx))
	w.mu.Lock()
	assert.Equal(t, map[string]int{"github:1:t0": 1, "github:1:t1": 1, "github:1:t2": 1}, w.runs, "each job ran exactly once")
	w.mu.Unlock()

	again := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	assert.Equal(t, Recovery{}, again.Recovered(), "a second start finds nothing to mend")
	again.Close()
}

func TestATornRecordAtTheTailIsDroppedAndItsRowTombstoned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	ids, _ := seedThree(t, path, Options{})
	// A power cut after the commit but before the segment's sync: the last
	// record's bytes are cut short.
	seg := segFile(t, path)
	st, err := os.Stat(seg)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(seg, st.Size()-3))

	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	rec := in.Recovered()
	assert.Equal(t, 1, rec.Tombstoned)
	assert.Positive(t, rec.CutBytes)
	st2, err := os.Stat(seg)
	require.NoError(t, err)
	assert.Equal(t, st.Size()-3-rec.CutBytes, st2.Size(), "the torn tail is cut off")

	ds, err := db.Load(ctx, ids)
	require.NoError(t, err)
	require.Len(t, ds, 3, "the torn row stays as a tombstone, so its id is not reused")
	assert.JSONEq(t, `{"n":0,"pad":"0123456789"}`, string(ds[0].Payload))
	assert.JSONEq(t, `{"n":1,"pad":"0123456789"}`, string(ds[1].Payload))
	assert.Equal(t, StateProcessed, ds[2].State)
	assert.Equal(t, "torn", ds[2].Outcome)
	assert.Empty(t, ds[2].Payload)
	_, err = db.Find(ctx, "github:1:t2")
	require.ErrorIs(t, err, ErrNotFound, "the key is free again")

	res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:t2", EventType: "push", Payload: []byte(`{"n":2}`)})
	require.NoError(t, err)
	assert.False(t, res.Duplicate, "the provider's retry is stored anew")
	assert.Greater(t, res.ID, ids[2])
	res1, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:t1", EventType: "push", Payload: []byte(`{}`)})
	require.NoError(t, err)
	assert.True(t, res1.Duplicate, "an intact delivery is still a duplicate")
	in.Close()
	ds, err = db.Load(ctx, []int64{res.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.JSONEq(t, `{"n":2}`, string(ds[0].Payload), "written to a new segment")
}

func TestDamageInTheMiddleOfTheTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sync string
		want Recovery
		// kept: the damaged delivery's row is still there (and fails to load)
		kept bool
	}{
		{"a damaged record that had been synced is reported and its row kept", "FULL", Recovery{Corrupt: 1}, true},
		{"a torn write followed by a good record is tombstoned", "NORMAL", Recovery{Tombstoned: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			ids, first := seedThree(t, path, Options{Synchronous: tt.sync})
			db, err := Open(ctx, path, Options{Synchronous: tt.sync})
			require.NoError(t, err)
			defer func() { require.NoError(t, db.Close()) }()
			// The mark lags (lost commits of the mark only), so that the
			// scanned tail holds the second record, whose payload is hit.
			require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error { return setMark(ctx, tx, first) }))
			var off int64
			require.NoError(t, db.read.QueryRow(`SELECT seg_off FROM webhook_delivery WHERE id = ?`, ids[1]).Scan(&off))
			f, err := os.OpenFile(segFile(t, path), os.O_RDWR, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte{'X'}, off+2)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			client, err := db.NewRiver(RiverConfig{})
			require.NoError(t, err)
			in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
			in.Close()
			assert.Equal(t, tt.want, in.Recovered())
			d, err := db.Find(ctx, "github:1:t1")
			if tt.kept {
				require.NoError(t, err)
				ds, err := db.Load(ctx, []int64{d.ID})
				require.NoError(t, err)
				require.Len(t, ds, 1)
				require.ErrorIs(t, ds[0].PayloadErr, errTorn, "its payload fails its CRC")
			} else {
				require.ErrorIs(t, err, ErrNotFound)
			}
			ds, err := db.Load(ctx, []int64{ids[2]})
			require.NoError(t, err, "the record after the damage is intact")
			assert.JSONEq(t, `{"n":2,"pad":"0123456789"}`, string(ds[0].Payload))
		})
	}
}

func TestASecondIntakeOnTheSameSegmentsIsRefused(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	_, err = NewIntake(context.Background(), db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	require.ErrorContains(t, err, "another receiver")
	in.Close()
	again := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	again.Close()
}

func TestRemoveBelowKeepsTheNewestSegment(t *testing.T) {
	t.Parallel()
	s, err := openSegments(filepath.Join(t.TempDir(), FileName))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.close()) }()
	s.mu.Lock()
	for range 3 {
		require.NoError(t, s.rotate())
	}
	s.mu.Unlock()
	require.NoError(t, s.removeBelow(1<<62, nil))
	ns, err := s.list()
	require.NoError(t, err)
	assert.Equal(t, []int64{3}, ns, "the segment being written stays")

	other, err := openSegments(filepath.Join(filepath.Dir(s.dir), FileName))
	require.NoError(t, err)
	require.NoError(t, other.removeBelow(1<<62, nil), "another process without a current segment")
	ns, err = other.list()
	require.NoError(t, err)
	assert.Equal(t, []int64{3}, ns)
	require.NoError(t, other.close())
}
