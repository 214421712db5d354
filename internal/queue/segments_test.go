package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeDeliveries opens a database with an intake (no jobs) and returns an
// enqueue function that reports the delivery's id.
func storeDeliveries(t *testing.T) (*DB, func(key, payload string) int64) {
	t.Helper()
	db := openTest(t)
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	t.Cleanup(in.Close)
	return db, func(key, payload string) int64 {
		t.Helper()
		res, err := in.Enqueue(context.Background(), NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(payload)})
		require.NoError(t, err)
		return res.ID
	}
}

// startNextSegment makes the intake's next append start a new segment, as
// when the current one is full.
func startNextSegment(db *DB) {
	db.segs.mu.Lock()
	db.segs.curSize = segmentMax
	db.segs.mu.Unlock()
}

// One payload that cannot be read must not fail the loading of the others
// (the batch it came in would stall behind it): Load reports it on its own
// delivery, as ErrTorn, which the worker dead-letters.
func TestLoadReportsAnUnreadablePayloadOnItsOwnDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, db *DB, id int64)
	}{
		{"a payload failing its CRC", func(t *testing.T, db *DB, id int64) {
			damagePayload(t, db, id)
		}},
		{"a payload whose segment file is gone", func(t *testing.T, db *DB, id int64) {
			_, err := db.write.Exec(`UPDATE webhook_delivery SET seg = seg + 1000 WHERE id = ?`, id)
			require.NoError(t, err)
		}},
		{"a payload past the end of its segment", func(t *testing.T, db *DB, id int64) {
			_, err := db.write.Exec(`UPDATE webhook_delivery SET seg_off = seg_off + 1000000 WHERE id = ?`, id)
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, enqueue := storeDeliveries(t)
			bad := enqueue("github:1:bad", `{"n":"bad"}`)
			good := enqueue("github:1:good", `{"n":"good"}`)
			tt.damage(t, db, bad)

			ds, err := db.Load(context.Background(), []int64{bad, good})
			require.NoError(t, err)
			require.Len(t, ds, 2)
			assert.ErrorIs(t, ds[0].PayloadErr, ErrTorn)
			assert.Nil(t, ds[0].Payload)
			assert.Equal(t, "github:1:bad", ds[0].Key, "the row itself is there")
			assert.NoError(t, ds[1].PayloadErr)
			assert.JSONEq(t, `{"n":"good"}`, string(ds[1].Payload))
		})
	}
}

// A segment is synced whole when the writer leaves it for the next one. If
// that sync fails, the pages it could not write may be dropped, and a later
// sync of the same file succeeds without them: every sync from then on must
// fail, so that no batch appended to it is answered 202 on the strength of
// that later sync.
func TestAFailedSyncOnLeavingASegmentRefusesEveryLaterSync(t *testing.T) {
	t.Parallel()
	s := testSegments(t)
	d := oneDelivery
	_, err := s.append(d("a")) // waits for its sync, to be answered
	require.NoError(t, err)

	eio := errors.New("input/output error")
	calls := 0
	s.syncFile = func(*os.File) error { calls++; return eio }
	s.mu.Lock()
	s.curSize = segmentMax // full: the next batch starts a new segment
	s.mu.Unlock()
	_, err = s.append(d("b"))
	require.ErrorIs(t, err, eio)
	assert.Equal(t, 1, calls, "the segment is synced as Sync syncs it")

	s.syncFile = fdatasyncFile // the disk answers again
	require.ErrorIs(t, s.Sync(), eio, "a's batch is not vouched for by a later sync")
	_, err = s.append(d("c"))
	require.NoError(t, err)
	require.ErrorIs(t, s.Sync(), eio, "nor is any later batch's")
}

// Prune decides which segments are free, then deletes them. The intake
// (perhaps in another process) may meanwhile commit a batch into the
// current segment and move on to a new one; the segment that was current
// must not be deleted from under that batch's rows.
func TestPruneFreesOnlySegmentsThatNoRowCanPointInto(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// between runs after Prune's decision and before its deletion.
		between func(enqueue func(key, payload string) int64, db *DB) []int64
		// before stores deliveries before the decision; the first is
		// processed and pruned.
		before   int
		wantSegs []int64
	}{
		{"a batch committed into the current segment after the decision keeps it",
			func(enqueue func(key, payload string) int64, db *DB) []int64 {
				id := enqueue("github:1:late", `{"late":true}`) // into segment 1
				startNextSegment(db)
				return []int64{id, enqueue("github:1:next", `{"next":true}`)} // into segment 2
			}, 1, []int64{1, 2}},
		{"a segment before the current one that no row points into is freed",
			func(func(key, payload string) int64, *DB) []int64 { return nil }, 2, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, enqueue := storeDeliveries(t)
			var ids []int64
			for i := range tt.before {
				if i > 0 {
					startNextSegment(db)
				}
				ids = append(ids, enqueue(fmt.Sprintf("github:1:p%d", i), `{}`))
			}
			require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
				_, err := db.MarkProcessed(ctx, tx, ids[0], "processed")
				return err
			}))
			_, err := db.write.Exec(`DELETE FROM webhook_delivery WHERE id = ?`, ids[0]) // pruned
			require.NoError(t, err)

			below, keep, err := db.segmentsInUse(ctx)
			require.NoError(t, err)
			later := tt.between(enqueue, db)
			require.NoError(t, db.segs.removeBelow(below, keep))

			ns, err := db.segs.list()
			require.NoError(t, err)
			assert.Equal(t, tt.wantSegs, ns)
			ds, err := db.Load(ctx, append(ids[1:], later...))
			require.NoError(t, err)
			for _, d := range ds {
				assert.NoError(t, d.PayloadErr, "delivery %d keeps its payload", d.ID)
			}
		})
	}
}

// testSegments opens the segments of a database file in a new directory,
// closed by t.Cleanup.
func testSegments(t *testing.T) *segments {
	t.Helper()
	s, err := openSegments(filepath.Join(t.TempDir(), FileName))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.close() })
	return s
}

// oneDelivery is a batch of one small delivery under key.
func oneDelivery(key string) []*NewDelivery {
	return []*NewDelivery{{Key: key, Provider: "github", EventType: "issues", ReceivedAt: time.Now(), Payload: []byte(`{"a":1}`)}}
}

// damagePayload overwrites a byte of delivery id's payload in its segment,
// so that it fails its CRC.
func damagePayload(t *testing.T, db *DB, id int64) {
	t.Helper()
	var seg, off int64
	require.NoError(t, db.read.QueryRow(`SELECT seg, seg_off FROM webhook_delivery WHERE id = ?`, id).Scan(&seg, &off))
	f, err := os.OpenFile(db.segs.path(seg), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{'X'}, off+1)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
