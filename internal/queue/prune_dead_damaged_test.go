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

// The payload log must follow the rows: a segment no row points into is
// disk space held for nothing. Parking only the dead letters whose payload
// reads whole still freed segments "from the oldest row's up", so a dead
// letter whose payload reads torn (what the worker dead-letters after
// damage to a synced record; no replay mends it, so it stays dead for good)
// pinned every segment written after it (found in review). Dead letters are
// now left out of the bound, and only their own segments kept. (A stranded
// delivery, pending with no job left, still pins: telling it from a queued
// one costs a pass over every live job.)
func TestADamagedDeadLetterDoesNotPinEveryLaterSegment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// keep makes delivery id a row that stays until an operator acts.
		keep func(t *testing.T, db *DB, id int64)
	}{
		{"a dead letter whose payload is damaged", func(t *testing.T, db *DB, id int64) {
			damagePayload(t, db, id)
			// The worker reads it torn and dead-letters it (Permanent).
			ds, err := db.Load(context.Background(), []int64{id})
			require.NoError(t, err)
			require.ErrorIs(t, ds[0].PayloadErr, ErrTorn)
			require.NoError(t, db.Tx(context.Background(), func(tx *sql.Tx) error {
				return db.RecordFailure(context.Background(), tx, id, "payload damaged or missing on disk", true)
			}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, enqueue := storeDeliveries(t)
			kept := enqueue("github:1:kept", `{"kept":true}`)
			tt.keep(t, db, kept)

			const segs = 30
			for i := range segs {
				startNextSegment(db)
				id := enqueue(fmt.Sprintf("github:1:ok%d", i), `{"ok":true}`)
				require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
					_, err := db.MarkProcessed(ctx, tx, id, "processed")
					return err
				}))
			}
			n, err := db.PruneAll(ctx, time.Now().Add(time.Hour), 1000, 10*time.Second)
			require.NoError(t, err)
			require.EqualValues(t, segs, n, "every processed delivery is pruned")

			left, err := db.segs.list()
			require.NoError(t, err)
			// Rows left: the kept one (segment 1). Files that may stay:
			// its segment and the newest (the intake appends to it).
			assert.LessOrEqual(t, len(left), 2,
				"after pruning every processed delivery, %d payload segments are still on disk (%v), "+
					"none of which but the first holds a row", len(left), left)
		})
	}
}
