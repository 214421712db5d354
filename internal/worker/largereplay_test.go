package worker

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// `saas-mcp webhooks replay --all-dead` replays every dead letter and then
// waits, with WaitFinished, until none is pending. After a long outage the
// backlog can pass 32,766 deliveries, SQLite's limit on the variables of
// one statement: CountFinished binds every id in one IN (...) list, so the
// wait fails at once ("too many SQL variables"), after every delivery was
// requeued; the command stopped its worker and exited 1 saying the replay
// failed, though it went through (found in review). Load reads that many
// too.
func TestAReplayOfMoreDeadLettersThanOneStatementBindsIsWaitedFor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	const n = 33_000
	ids := make([]int64, n)
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO webhook_delivery (id, key, provider, event_type, received_at, state, payload)
			VALUES (?, ?, 'github', 'push', 0, 'processed', x'')`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range ids {
			ids[i] = int64(i + 1)
			if _, err := st.ExecContext(ctx, ids[i], "github:1:"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, WaitFinished(wctx, db, ids, 10*time.Millisecond, nil),
		"every one of the %d replayed deliveries is processed", n)
	ds, err := db.Get(ctx, ids)
	require.NoError(t, err)
	require.Len(t, ds, n)
	assert.Equal(t, ids[n-1], ds[n-1].ID, "in the order asked")
}
