package queue

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A long-running receiver keeps a dead letter until someone replays it
// (forever, if nobody does), while every processed delivery is pruned once
// WEBHOOK_RETENTION has passed. The payload segments must follow the rows:
// a segment no row points into is disk space held for nothing. One dead
// letter pinned every segment written after it (found in review), and the
// payload log grew without bound (64 MiB per segment) however short the
// retention. Prune now moves a dead letter's payload into its row first;
// one whose payload reads damaged (what the worker dead-letters after
// damage to a synced record; no replay mends it) cannot be moved, and keeps
// only its own segment (also found in review). A stranded delivery
// (pending, no job left: a job gave up while the store failed, a full disk
// say) pinned them too, so the disk would stay full; it is moved like a
// dead letter. A delivery a job will still run is left in place.
func TestADeadLetterDoesNotPinEverySegmentWrittenAfterIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage bool
		state  string // of the first delivery once the others are processed
		queued bool   // a job still names it
	}{
		{"a dead letter", false, StateDead, false},
		{"a dead letter whose payload is damaged", true, StateDead, false},
		{"a stranded delivery", false, StatePending, false},
		{"a queued delivery keeps its segments", false, StatePending, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, enqueue := storeDeliveries(t)
			// A "saas-mcp worker" process on the same DATA_DIR: it reads
			// the payloads and prunes.
			wdb, err := Open(ctx, db.Path(), Options{Synchronous: "NORMAL"})
			require.NoError(t, err)
			t.Cleanup(func() { _ = wdb.Close() })

			// The first delivery fails for good and is dead-lettered, or is
			// left pending: with no job (storeDeliveries inserts none), or
			// with one that is still to run.
			dead := enqueue("github:1:dead", `{"dead":true}`)
			if tt.damage {
				damagePayload(t, db, dead)
			}
			switch {
			case tt.state == StateDead:
				require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
					return db.RecordFailure(ctx, tx, dead, "handler failed", true)
				}))
			case tt.queued:
				client, err := db.NewRiver(RiverConfig{})
				require.NoError(t, err)
				require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
					return RiverInserter(client, 3)(ctx, tx, []int64{dead})
				}))
			}

			// Then many segments' worth of deliveries, each processed.
			const segs = 30
			for i := range segs {
				startNextSegment(db)
				id := enqueue(fmt.Sprintf("github:1:ok%d", i), `{"ok":true}`)
				ds, err := wdb.Load(ctx, []int64{id}) // the worker reads it
				require.NoError(t, err)
				require.NoError(t, ds[0].PayloadErr)
				require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
					_, err := db.MarkProcessed(ctx, tx, id, "processed")
					return err
				}))
			}

			// WEBHOOK_RETENTION has passed for all of them: the worker's prune.
			n, err := wdb.PruneAll(ctx, time.Now().Add(time.Hour), 1000, 10*time.Second)
			require.NoError(t, err)
			require.EqualValues(t, segs, n, "every processed delivery is pruned")

			left, err := wdb.segs.list()
			require.NoError(t, err)
			if tt.queued {
				assert.Greater(t, len(left), segs, "a queued delivery keeps its segment and the later ones")
				ds, err := wdb.Load(ctx, []int64{dead})
				require.NoError(t, err)
				require.Len(t, ds, 1)
				assert.JSONEq(t, `{"dead":true}`, string(ds[0].Payload))
				var parked bool
				require.NoError(t, wdb.read.QueryRow(`SELECT seg IS NULL FROM webhook_delivery WHERE id = ?`, dead).Scan(&parked))
				assert.False(t, parked, "its payload stays in its segment")
				return
			}
			// Files that may stay: the first delivery's segment (if it could
			// not be moved) and the newest (the intake appends to it).
			assert.LessOrEqual(t, len(left), 2,
				"after pruning every processed delivery, %d payload segments are still on disk (%v)", len(left), left)
			wdb.segs.mu.Lock()
			readers := len(wdb.segs.readers)
			wdb.segs.mu.Unlock()
			assert.LessOrEqual(t, readers, 2,
				"the process still holds %d segment files open for reads after every delivery in them was pruned", readers)

			ds, err := wdb.Load(ctx, []int64{dead})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.Equal(t, tt.state, ds[0].State)
			if tt.damage {
				assert.ErrorIs(t, ds[0].PayloadErr, ErrTorn, "still the dead letter it was")
				return
			}
			// It can still be replayed: its payload moved whole.
			assert.NoError(t, ds[0].PayloadErr)
			assert.JSONEq(t, `{"dead":true}`, string(ds[0].Payload))
		})
	}
}
