package queue

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedProcessed stores n deliveries processed at processedAt, without
// payloads, as rows of the earlier format (no segment).
func seedProcessed(t *testing.T, db *DB, n int, processedAt time.Time, keyPrefix string) {
	t.Helper()
	if n == 0 {
		return
	}
	_, err := db.write.Exec(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
		INSERT INTO webhook_delivery (key, provider, event_type, received_at, state, processed_at, payload)
		SELECT ? || i, 'github', 'push', ?, 'processed', ?, x'' FROM k`,
		n, keyPrefix, processedAt.UnixMilli(), processedAt.UnixMilli())
	require.NoError(t, err)
}

// A pass of the prune loop must keep up with a sustained intake: one chunk
// of 1,000 rows every 30 seconds is 33 deliveries a second, and the rows
// past WEBHOOK_RETENTION would then pile up for ever. A pass prunes chunk
// after chunk until the backlog is gone, bounded by its time budget so a
// huge backlog does not keep the intake from the write lock.
func TestPruneAllPrunesTheWholeBacklogChunkByChunkWithinItsBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		expired  int
		budget   time.Duration
		want     int64
		wantLeft int
	}{
		{"a backlog of several chunks is pruned in one pass", 2500, time.Minute, 2500, 0},
		{"a backlog of whole chunks is pruned in one pass", 2000, time.Minute, 2000, 0},
		{"nothing expired prunes nothing", 0, time.Minute, 0, 0},
		{"a pass out of budget stops after its first chunk", 2500, 0, 1000, 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openTest(t)
			now := time.Now()
			seedProcessed(t, db, tt.expired, now.Add(-2*time.Hour), "github:1:expired-")
			seedProcessed(t, db, 10, now, "github:1:recent-") // within retention
			_, err := db.write.Exec(`INSERT INTO webhook_delivery (key, provider, event_type, received_at, payload)
				VALUES ('github:1:pending', 'github', 'push', ?, x'')`, now.Add(-2*time.Hour).UnixMilli())
			require.NoError(t, err)

			n, err := db.PruneAll(ctx, now.Add(-time.Hour), 1000, tt.budget)
			require.NoError(t, err)
			assert.Equal(t, tt.want, n)
			counts, err := db.Counts(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[string]int{StateProcessed: 10 + tt.wantLeft, StatePending: 1}, counts,
				"only processed deliveries older than the retention are pruned")
		})
	}
}
