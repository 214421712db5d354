package queue

import (
	"context"
	"database/sql"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests model a power cut as "each file loses what was written after
// its last fdatasync", file by file: SQLite's WAL may be on disk (a
// checkpoint syncs it) while the segment's last batch is not, and the other
// way round. See recover.go.

// restart opens path after a simulated power cut and starts an intake on
// it, which runs recovery. Both are closed when the test ends.
func restart(t *testing.T, path string, opts IntakeOptions) (*DB, *Intake) {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	opts.Jobs = RiverInserter(client, 3)
	in := newIntake(t, db, opts)
	t.Cleanup(in.Close)
	return db, in
}

// enqueueKey stores a delivery with key and payload and returns its id.
func enqueueKey(t *testing.T, in *Intake, key, payload string) int64 {
	t.Helper()
	res, err := in.Enqueue(context.Background(), NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(payload)})
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	return res.ID
}

// syncHold holds segment syncs back: a release channel put into gate
// makes the next sync signal entered and wait until it is closed.
type syncHold struct {
	gate    chan chan struct{}
	entered chan struct{}
}

func holdSyncs(db *DB) *syncHold {
	h := &syncHold{gate: make(chan chan struct{}, 1), entered: make(chan struct{})}
	db.segs.syncFile = func(f *os.File) error {
		select {
		case release := <-h.gate:
			h.entered <- struct{}{}
			<-release
		default:
		}
		return fdatasyncFile(f)
	}
	return h
}

// storePipelined stores w0 alone, then x and r1 as two batches, r1's
// written while x's sync is held (so r1's record carries the durable offset
// of before x), then the deliveries of later, one batch each. It returns the
// ids in that order and the segment mark as it was after w0.
func storePipelined(t *testing.T, path string, later ...string) ([]int64, segMark) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	h := holdSyncs(db)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	// One delivery per batch: r1 must not wait to join x's successor.
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3), MaxBatch: 1})
	ids := []int64{enqueueKey(t, in, "github:1:w0", `{"w":0}`)}
	first := readMark(t, db)

	release := make(chan struct{})
	h.gate <- release
	answered := make(chan Enqueued, 2)
	enqueue := func(key string) {
		res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{"k":"` + key + `"}`)})
		assert.NoError(t, err)
		answered <- res
	}
	go enqueue("github:1:x")
	waitFor(t, h.entered, "x's sync") // x is committed, its sync held
	go enqueue("github:1:r1")
	require.Eventually(t, func() bool {
		batches, _ := in.Stats()
		return batches == 3 // r1 is committed
	}, 10*time.Second, time.Millisecond)
	close(release)
	for range 2 {
		waitFor(t, answered, "an answer")
	}
	for _, key := range []string{"github:1:x", "github:1:r1"} {
		d, err := db.Find(ctx, key)
		require.NoError(t, err)
		ids = append(ids, d.ID)
	}
	for _, key := range later {
		ids = append(ids, enqueueKey(t, in, key, `{}`))
	}
	in.Close()
	require.NoError(t, db.Close())
	return ids, first
}

// A row whose record never reached the disk was never answered: whether
// the record was cut short, lost whole or lost with its segment file, and
// whether a recovery already cut the tail before a second power cut lost
// its tombstones, recovery must make the row a tombstone, so that the
// provider's retry is stored anew instead of being answered 200 as a
// duplicate of a row with no payload (which would dead-letter).
func TestAPowerCutThatLosesAnUnansweredRecordFreesItsKeyForTheRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// cut stores deliveries at path and makes the power cut; it returns
		// the ids of the rows that lost their record and of those kept.
		cut func(t *testing.T, path string) (lost, kept []int64)
	}{
		{"a record lost whole at the end of its segment", func(t *testing.T, path string) ([]int64, []int64) {
			ids, _ := seedThree(t, path, Options{})
			m := markOf(t, path)
			// The segment keeps what its last sync saw, before the last
			// batch; SQLite keeps that batch's commit.
			require.NoError(t, os.Truncate(segFile(t, path), m.durable))
			return ids[2:], ids[:2]
		}},
		{"two batches committed while the first was syncing, lost whole", func(t *testing.T, path string) ([]int64, []int64) {
			ids, _ := storePipelined(t, path)
			m := markOf(t, path)
			require.NoError(t, os.Truncate(segFile(t, path), m.durable))
			return ids[1:], ids[:1]
		}},
		{"a segment file the intake had just started, lost with its directory entry", func(t *testing.T, path string) ([]int64, []int64) {
			db, err := Open(context.Background(), path, Options{})
			require.NoError(t, err)
			client, err := db.NewRiver(RiverConfig{})
			require.NoError(t, err)
			in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
			a := enqueueKey(t, in, "github:1:a", `{"a":1}`)
			startNextSegment(db)
			b := enqueueKey(t, in, "github:1:b", `{"b":1}`)
			in.Close()
			m := readMark(t, db)
			require.NoError(t, db.Close())
			require.Equal(t, int64(2), m.seg)
			require.NoError(t, os.Remove(filepath.Join(path+".payloads", fmt.Sprintf("%016d.seg", m.seg))))
			return []int64{b}, []int64{a}
		}},
		{"a tail cut by a recovery whose tombstones a second power cut lost", func(t *testing.T, path string) ([]int64, []int64) {
			ids, _ := seedThree(t, path, Options{})
			seg := segFile(t, path)
			st, err := os.Stat(seg)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(seg, st.Size()-3)) // the last record torn

			ctx := context.Background()
			db, err := Open(ctx, path, Options{})
			require.NoError(t, err)
			var key string
			var segN, off int64
			require.NoError(t, db.read.QueryRow(`SELECT key, seg, seg_off FROM webhook_delivery WHERE id = ?`, ids[2]).Scan(&key, &segN, &off))
			client, err := db.NewRiver(RiverConfig{})
			require.NoError(t, err)
			in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
			in.Close()
			require.Equal(t, 1, in.Recovered().Tombstoned)
			// The second power cut: the cut reached the disk, the
			// tombstone's commit did not.
			_, err = db.write.Exec(`UPDATE webhook_delivery SET key = ?, state = 'pending', outcome = '', processed_at = NULL,
				last_error = '', seg = ?, seg_off = ? WHERE id = ?`, key, segN, off, ids[2])
			require.NoError(t, err)
			require.NoError(t, db.Close())
			return ids[2:], ids[:2]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			lost, kept := tt.cut(t, path)

			db, in := restart(t, path, IntakeOptions{})
			assert.Equal(t, len(lost), in.Recovered().Tombstoned, "each row whose record never reached the disk")
			ds, err := db.Load(ctx, lost)
			require.NoError(t, err)
			require.Len(t, ds, len(lost), "a tombstone keeps its id")
			for _, d := range ds {
				assert.Equal(t, StateProcessed, d.State)
				assert.Equal(t, "torn", d.Outcome, "payload error: %v", d.PayloadErr)
				tornPrefix := fmt.Sprintf("torn:%d:", d.ID)
				require.True(t, strings.HasPrefix(d.Key, tornPrefix), "the key %s is freed", d.Key)
				res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: strings.TrimPrefix(d.Key, tornPrefix), EventType: "push", Payload: []byte(`{}`)})
				require.NoError(t, err)
				assert.False(t, res.Duplicate, "the provider's retry of %s is stored anew", d.Key)
			}
			ds, err = db.Load(ctx, kept)
			require.NoError(t, err)
			require.Len(t, ds, len(kept))
			for _, d := range ds {
				assert.Equal(t, StatePending, d.State, "the answered delivery %s is kept", d.Key)
				assert.NoError(t, d.PayloadErr)
			}
		})
	}
}

// crc32Of is the CRC a row keeps of payload p.
func crc32Of(p string) uint32 { return crc32.Checksum([]byte(p), crcTable) }

// markOf reads the segment mark of the database at path.
func markOf(t *testing.T, path string) segMark {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	return readMark(t, db)
}

// The intake's SQLite commits are not synced per batch, so a power cut can
// lose every commit since the database was created, the first one, which
// wrote the segment mark, included; webhooks.db can also be removed while
// its payload log is kept. The deliveries were answered 202 on the strength
// of their synced records: recovery must rebuild them all.
func TestAnsweredDeliveriesSurviveTheLossOfEveryCommitOfTheirDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lose func(t *testing.T, path string)
	}{
		{"a new database whose commits a power cut lost", func(t *testing.T, path string) {
			// What SQLite holds after the cut: its state right after the
			// migrations, none of the intake's commits.
			db, err := Open(context.Background(), path, Options{})
			require.NoError(t, err)
			require.NoError(t, db.Tx(context.Background(), func(tx *sql.Tx) error {
				for _, q := range []string{`DELETE FROM webhook_delivery`, `DELETE FROM river_job`, `DELETE FROM webhook_segment_mark`} {
					if _, err := tx.Exec(q); err != nil {
						return err
					}
				}
				return nil
			}))
			require.NoError(t, db.Close())
		}},
		{"webhooks.db removed while its payload log is kept", func(t *testing.T, path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				require.NoError(t, os.RemoveAll(p))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			seedThree(t, path, Options{}) // each answered after its segment sync
			tt.lose(t, path)

			var receipts []Receipt
			db, in := restart(t, path, IntakeOptions{Receipts: func(_ context.Context, rs []Receipt) error {
				receipts = append(receipts, rs...)
				return nil
			}})
			assert.Equal(t, Recovery{Reinserted: 3}, in.Recovered(), "every answered delivery is rebuilt from its record")
			require.Len(t, receipts, 3)
			for i := range 3 {
				assert.True(t, receipts[i].Recovered)
				d, err := db.Find(ctx, fmt.Sprintf("github:1:t%d", i))
				require.NoError(t, err, "delivery %d answered 202 is kept", i)
				assert.Equal(t, time.UnixMilli(int64(1_700_000_000_000+i)), d.ReceivedAt)
				ds, err := db.Load(ctx, []int64{d.ID})
				require.NoError(t, err)
				assert.JSONEq(t, fmt.Sprintf(`{"n":%d,"pad":"0123456789"}`, i), string(ds[0].Payload))
			}
			in.Close()
			again := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
			again.Close()
			assert.Equal(t, Recovery{}, again.Recovered(), "a second start finds nothing to mend")
		})
	}
}

// A database of the earlier format (raw payloads, no segment mark) keeps
// its own start-up check of its rows, and its segments are never read as
// records (a raw payload shorter than a record's magic would look torn);
// a record-format segment after them, whose first commit was lost with the
// mark, is rebuilt from its records.
func TestADatabaseOfTheEarlierFormatKeepsItsCheckAndItsRecordsAreRebuilt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		payloads []string // raw, in segment 1
		tear     int      // bytes the power cut took from the end of segment 1
		record   bool     // a record-format batch followed, its commit lost
		want     Recovery
		wantTorn []bool
	}{
		{name: "a torn payload of the earlier format is tombstoned as that format asks",
			payloads: []string{`{"legacy":0}`, `{"legacy":1}`}, tear: 2,
			want: Recovery{Tombstoned: 1}, wantTorn: []bool{false, true}},
		{name: "a record-format batch after them is rebuilt from its record",
			payloads: []string{`{}`}, record: true,
			want: Recovery{Reinserted: 1}, wantTorn: []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			db, err := Open(ctx, path, Options{})
			require.NoError(t, err)
			legacySeg := db.segs.path(1)
			raw := []byte(strings.Join(tt.payloads, ""))
			require.NoError(t, os.WriteFile(legacySeg, raw, 0o640))
			var legacy []int64
			off := 0
			for i, p := range tt.payloads {
				res, err := db.write.Exec(`INSERT INTO webhook_delivery (key, provider, event_type, received_at, seg, seg_off, seg_len, seg_crc, payload)
					VALUES (?, 'github', 'push', 0, 1, ?, ?, ?, x'')`, fmt.Sprintf("github:1:l%d", i), off, len(p), int64(crc32Of(p)))
				require.NoError(t, err)
				id, err := res.LastInsertId()
				require.NoError(t, err)
				legacy = append(legacy, id)
				off += len(p)
			}
			if tt.record {
				client, err := db.NewRiver(RiverConfig{})
				require.NoError(t, err)
				in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
				id := enqueueKey(t, in, "github:1:r0", `{"record":0}`) // answered 202
				in.Close()
				require.FileExists(t, db.segs.path(2), "the record-format batch went to a segment of its own")
				require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.Exec(`DELETE FROM webhook_delivery WHERE id = ?`, id); err != nil {
						return err
					}
					_, err := tx.Exec(`DELETE FROM webhook_segment_mark`)
					return err
				}))
			}
			require.NoError(t, db.Close())
			require.NoError(t, os.Truncate(legacySeg, int64(len(raw)-tt.tear)))

			db, in := restart(t, path, IntakeOptions{})
			assert.Equal(t, tt.want, in.Recovered())
			ds, err := db.Load(ctx, legacy)
			require.NoError(t, err)
			require.Len(t, ds, len(legacy))
			for i, d := range ds {
				if tt.wantTorn[i] {
					assert.Equal(t, "torn", d.Outcome)
					continue
				}
				assert.Equal(t, StatePending, d.State)
				assert.JSONEq(t, tt.payloads[i], string(d.Payload), "an intact payload of the earlier format is kept")
			}
			st, err := os.Stat(legacySeg)
			require.NoError(t, err)
			assert.Equal(t, int64(len(raw)-tt.tear), st.Size(), "a segment of the earlier format is not cut as a torn record")
			if tt.record {
				d, err := db.Find(ctx, "github:1:r0")
				require.NoError(t, err, "the answered record-format delivery is rebuilt")
				ds, err := db.Load(ctx, []int64{d.ID})
				require.NoError(t, err)
				assert.JSONEq(t, `{"record":0}`, string(ds[0].Payload))
			}
		})
	}
}

// A delivery with an empty payload (a signed empty body) has its payload
// offset at the end of its record, which is where the next record starts.
// When that next record is torn or lost, the empty delivery, synced and
// answered 202, must stay pending: only the next record's row is a
// tombstone.
func TestAnAnsweredEmptyPayloadIsKeptWhenTheRecordAfterItIsLost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cut  func(t *testing.T, path string)
	}{
		{"the record after it cut short", func(t *testing.T, path string) {
			// On disk the same as a third batch committed, then cut by the
			// power before its sync.
			seg := segFile(t, path)
			st, err := os.Stat(seg)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(seg, st.Size()-3))
		}},
		{"the record after it lost whole", func(t *testing.T, path string) {
			m := markOf(t, path)
			require.NoError(t, os.Truncate(segFile(t, path), m.durable))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			db, err := Open(ctx, path, Options{})
			require.NoError(t, err)
			client, err := db.NewRiver(RiverConfig{})
			require.NoError(t, err)
			in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
			var ids []int64
			for i, p := range []string{`{"n":0}`, ``, `{"n":2}`} {
				ids = append(ids, enqueueKey(t, in, fmt.Sprintf("github:1:e%d", i), p)) // answered 202
			}
			in.Close()
			require.NoError(t, db.Close())
			tt.cut(t, path)

			db, in = restart(t, path, IntakeOptions{})
			assert.Equal(t, 1, in.Recovered().Tombstoned, "only the lost record's row")
			ds, err := db.Load(ctx, ids)
			require.NoError(t, err)
			require.Len(t, ds, 3)
			for _, d := range ds[:2] {
				assert.Equal(t, StatePending, d.State, "the answered delivery %s is still to be handled (outcome %q)", d.Key, d.Outcome)
				assert.NoError(t, d.PayloadErr)
			}
			assert.Empty(t, ds[1].Payload)
			assert.Equal(t, "torn", ds[2].Outcome)
		})
	}
}

// Whether damaged bytes in the middle of the tail had been synced is told by
// the durable offsets of the records after them. A record of a batch written
// while the damaged one was syncing carries an older offset than a later
// batch's record: damage to a synced, answered record must be taken as
// damage (kept, counted Corrupt, dead-lettered), not as a torn write whose
// row is tombstoned and whose key is freed.
func TestDamageToASyncedRecordIsToldByAnyLaterRecordNotJustTheNext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	ids, first := storePipelined(t, path, "github:1:r2")

	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	// The mark lags (lost commits of the mark only), so that the scanned
	// tail holds x, whose payload is hit.
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error { return setMark(ctx, tx, first) }))
	var off int64
	require.NoError(t, db.read.QueryRow(`SELECT seg_off FROM webhook_delivery WHERE id = ?`, ids[1]).Scan(&off))
	f, err := os.OpenFile(segFile(t, path), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{'X'}, off+2)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	res, err := db.segs.scan(1, 0)
	require.NoError(t, err)
	require.Len(t, res.bad, 1)
	require.Len(t, res.good, 3)
	require.LessOrEqual(t, res.good[1].rec.durable, res.bad[0].from, "r1's record does not say x was synced")
	require.NoError(t, db.Close())

	db, in := restart(t, path, IntakeOptions{})
	assert.Equal(t, Recovery{Corrupt: 1}, in.Recovered())
	d, err := db.Find(ctx, "github:1:x")
	require.NoError(t, err, "the answered delivery keeps its key")
	ds, err := db.Load(ctx, []int64{d.ID})
	require.NoError(t, err)
	assert.ErrorIs(t, ds[0].PayloadErr, ErrTorn, "its payload fails its CRC, and its job dead-letters")
}

// After a segment file is lost and its rows are tombstoned, the mark still
// names that segment until the next commit. A retry stored right after must
// not go into a new file of the same number: should a second power cut lose
// its commit, the old mark would make recovery misread that file and the
// answered retry would be lost.
func TestARetryStoredAfterALostSegmentSurvivesTheLossOfItsCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	enqueueKey(t, in, "github:1:a", `{"a":1}`)
	startNextSegment(db)
	enqueueKey(t, in, "github:1:b", `{"b":1}`)
	in.Close()
	lostMark := readMark(t, db)
	require.NoError(t, db.Close())
	require.NoError(t, os.Remove(filepath.Join(path+".payloads", fmt.Sprintf("%016d.seg", lostMark.seg))))

	db, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	client, err = db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in = newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	require.Equal(t, 1, in.Recovered().Tombstoned)
	retry := enqueueKey(t, in, "github:1:b", `{"b":1}`) // answered 202
	in.Close()
	// The second power cut: the retry's commit is lost, the mark is back
	// to the one recovery left.
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM webhook_delivery WHERE id = ?`, retry); err != nil {
			return err
		}
		return setMark(ctx, tx, lostMark)
	}))
	require.NoError(t, db.Close())

	db, in = restart(t, path, IntakeOptions{})
	assert.Equal(t, 1, in.Recovered().Reinserted)
	d, err := db.Find(ctx, "github:1:b")
	require.NoError(t, err, "the answered retry is rebuilt from its record")
	ds, err := db.Load(ctx, []int64{d.ID})
	require.NoError(t, err)
	assert.JSONEq(t, `{"b":1}`, string(ds[0].Payload))
}
