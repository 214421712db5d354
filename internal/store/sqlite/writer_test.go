package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// A claim must be on disk before anything is sent (README, "How"): with
// STORE_SYNC=FULL, a claim that wrote (a new key, or one taken over through
// the transaction path) and every ledger record sync the WAL before they
// return, while the bookkeeping after the send does not wait for a sync, and
// nothing syncs in a NORMAL store. The connection itself stays NORMAL, so no
// sync holds the write lock.
func TestOnlyClaimsAndLedgerRecordsSyncTheWAL(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"FULL", "NORMAL"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			db := openTest(t, Options{Synchronous: mode})
			k, ctx := db.Keys(), context.Background()
			now := time.Now().Truncate(time.Microsecond)
			claim := idempotency.Claim{Key: "k1", Tool: "createTicket", ArgsHash: "h", Target: "o/r", Owner: "a",
				LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
			alive := func(string) bool { return true }
			event := payments.Event{ID: "evt_1", Type: "payment_intent.succeeded", ObjectID: "pi_1",
				Currency: "eur", Created: now}
			steps := []struct {
				name  string
				do    func() error
				syncs int64 // in a FULL store
			}{
				{"a new key's claim", func() error {
					_, out, err := k.Claim(ctx, claim, now, alive)
					assert.Equal(t, idempotency.Acquired, out)
					return err
				}, 1},
				{"a claim of a key in flight", func() error {
					_, out, err := k.Claim(ctx, claim, now, alive)
					assert.NotEqual(t, idempotency.Acquired, out)
					return err
				}, 0},
				{"marking in doubt", func() error { return k.MarkInDoubt(ctx, "k1", "a") }, 0},
				{"a claim taking over a key in doubt from a process gone", func() error {
					c := claim
					c.Owner = "b"
					_, out, err := k.Claim(ctx, c, now.Add(time.Second), func(string) bool { return false })
					assert.Equal(t, idempotency.Reacquired, out)
					return err
				}, 1},
				{"a commit", func() error { return k.Commit(ctx, "k1", "b", []byte(`{}`)) }, 0},
				{"a ledger record", func() error { _, err := db.Payments().Record(ctx, event); return err }, 1},
				{"a ledger record's repeat", func() error { _, err := db.Payments().Record(ctx, event); return err }, 1},
			}
			for _, st := range steps {
				before := syncsOf(db)
				require.NoError(t, st.do(), st.name)
				want := st.syncs
				if mode == "NORMAL" {
					want = 0
				}
				assert.Equal(t, want, syncsOf(db)-before, st.name)
				var got int
				require.NoError(t, db.w.conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got))
				assert.Equal(t, 1, got, "%s: the write connection must stay NORMAL", st.name)
			}
		})
	}
}

func syncsOf(db *DB) int64 {
	if db.w.wal == nil {
		return 0
	}
	return db.w.wal.Syncs()
}

func TestWriterGivesUpWaitingWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	err := db.w.do(context.Background(), func(context.Context) error {
		cancel()
		return db.w.do(ctx, func(context.Context) error { return nil }) // the connection is busy
	})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestWriterRollsBackAFailedTransaction(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	err := db.w.do(ctx, func(ctx context.Context) error {
		return db.w.tx(ctx, func() (bool, error) {
			if _, err := db.w.conn.ExecContext(ctx, `DELETE FROM schema_migrations`); err != nil {
				return false, err
			}
			return false, assert.AnError
		})
	})
	require.ErrorIs(t, err, assert.AnError)
	var n int
	require.NoError(t, db.read.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
	assert.Positive(t, n, "the delete must have been rolled back")
	// The connection is out of the transaction: a new one can begin.
	require.NoError(t, db.w.do(ctx, func(ctx context.Context) error {
		return db.w.tx(ctx, func() (bool, error) { return true, nil })
	}))
}
