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
// only its own segment (also found in review). (A stranded delivery,
// pending with no job left, still pins: telling it from a queued one costs
// a pass over every live job.)
func TestADeadLetterDoesNotPinEverySegmentWrittenAfterIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage bool
	}{
		{"a dead letter", false},
		{"a dead letter whose payload is damaged", true},
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

			// The first delivery fails for good and is dead-lettered.
			dead := enqueue("github:1:dead", `{"dead":true}`)
			if tt.damage {
				damagePayload(t, db, dead)
			}
			require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
				return db.RecordFailure(ctx, tx, dead, "handler failed", true)
			}))

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
			// Files that may stay: the dead letter's segment (if it could
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
			if tt.damage {
				assert.ErrorIs(t, ds[0].PayloadErr, ErrTorn, "still the dead letter it was")
				return
			}
			// The dead letter can still be replayed: its payload moved whole.
			assert.NoError(t, ds[0].PayloadErr)
			assert.JSONEq(t, `{"dead":true}`, string(ds[0].Payload))
		})
	}
}
