package queue

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnEnqueueErrorSaysWhetherTheDeliveryWasStored (found in review):
// the receiver audited every store error as "not stored", so the log could
// carry "received" and "rejected: not stored" for one key. An error that
// came after the delivery's record was written wraps
// ErrCommittedUnconfirmed: its sync failed, so it was refused, but the
// record may be on disk, and the next start then stores it from there
// (shown here). A failing transaction refuses nothing: the record is on
// disk and answered, Enqueue (which waits for the row) hears that it is
// not committed yet, and the index stage retries.
func TestAnEnqueueErrorSaysWhetherTheDeliveryWasStored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		failSync bool
		failJobs bool
	}{
		{"the sync fails", true, false},
		{"the transaction fails", false, true},
		{"the sync and the transaction fail", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			db, err := Open(ctx, path, Options{}) // FULL: the payloads are synced
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			if tt.failSync {
				// The bytes reach the file; the sync reports a failure.
				db.segs.syncFile = func(*os.File) error { return errors.New("EIO") }
			}
			var mu sync.Mutex
			var received []string
			var failJobs atomic.Bool
			failJobs.Store(tt.failJobs)
			opts := IntakeOptions{
				Jobs: func(context.Context, *sql.Tx, []int64) error {
					if failJobs.Load() {
						return errors.New("database is full")
					}
					return nil
				},
				Receipts: func(_ context.Context, rs []Receipt) error {
					mu.Lock()
					defer mu.Unlock()
					for _, r := range rs {
						received = append(received, r.Delivery.Key)
					}
					return nil
				},
			}
			in := newIntake(t, db, opts)
			in.indexRetry = time.Millisecond
			d := NewDelivery{Provider: "github", Key: "github:1:abc", EventType: "push", Payload: []byte(`{}`)}
			_, err = in.Enqueue(ctx, d)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCommittedUnconfirmed, "the record was written: it may be stored")
			if !tt.failSync {
				require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:def", EventType: "push", Payload: []byte(`{}`)}),
					"a failing transaction refuses nothing")
			}
			stored := func() int {
				var n int
				require.NoError(t, db.read.QueryRow(`SELECT count(*) FROM webhook_delivery WHERE key = ? AND state = 'pending'`, "github:1:abc").Scan(&n))
				return n
			}
			assert.Zero(t, stored(), "not stored yet")
			mu.Lock()
			assert.Empty(t, received, "nor audited received")
			mu.Unlock()

			// The database works again, or the process restarts.
			failJobs.Store(false)
			in.Close()
			if tt.failSync {
				db.segs.syncFile = fdatasyncFile
				in = newIntake(t, db, opts)
				t.Cleanup(in.Close)
			}
			assert.Equal(t, 1, stored(), "stored from its record once the transaction can run")
			mu.Lock()
			assert.Contains(t, received, "github:1:abc", "and audited received")
			mu.Unlock()
		})
	}
}
