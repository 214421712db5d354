package sqlite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriterSyncsOnlyDurableWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sync    string
		durable bool
		want    int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"a claim in a FULL store is synced", "FULL", true, 2},
		{"a commit in a FULL store waits for the next sync", "FULL", false, 1},
		{"a claim in a NORMAL store is not synced", "NORMAL", true, 1},
		{"a commit in a NORMAL store is not synced", "NORMAL", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t, Options{Synchronous: tt.sync})
			ctx := context.Background()
			// Alternate so each case also switches the mode back and forth.
			for _, durable := range []bool{!tt.durable, tt.durable} {
				var got int
				require.NoError(t, db.w.do(ctx, durable, func(ctx context.Context) error {
					return db.w.conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got)
				}))
				if durable == tt.durable {
					assert.Equal(t, tt.want, got)
				}
			}
		})
	}
}

func TestWriterGivesUpWaitingWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	err := db.w.do(context.Background(), true, func(context.Context) error {
		cancel()
		return db.w.do(ctx, true, func(context.Context) error { return nil }) // the connection is busy
	})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestWriterRollsBackAFailedTransaction(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	err := db.w.do(ctx, true, func(ctx context.Context) error {
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
	require.NoError(t, db.w.do(ctx, true, func(ctx context.Context) error {
		return db.w.tx(ctx, func() (bool, error) { return true, nil })
	}))
}
