package queue

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnEnqueueErrorSaysWhetherTheDeliveryWasStored (found in review):
// when the payload sync fails, Enqueue fails, but the batch's row and job
// are committed and Receipts (the "received" audit record) ran beside the
// sync: the delivery is stored, audited as received, and will be
// processed. The receiver audited every Enqueue error as "not stored", so
// the log carried "received" and "rejected: not stored" for one key. Such
// an error now wraps ErrCommittedUnconfirmed; one from a batch that did
// not commit does not.
func TestAnEnqueueErrorSaysWhetherTheDeliveryWasStored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failSync  bool
		failJobs  bool
		committed bool
	}{
		{"the sync fails after the commit", true, false, true},
		{"the commit fails", false, true, false},
		// A batch that did not commit is refused as not stored,
		// whatever the sync would have said.
		{"the commit and the sync fail", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(t.TempDir(), FileName), Options{}) // FULL: the payloads are synced
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			if tt.failSync {
				db.segs.syncFile = func(*os.File) error { return errors.New("EIO") }
			}
			var mu sync.Mutex
			var received []string
			in := newIntake(t, db, IntakeOptions{
				Jobs: func(context.Context, *sql.Tx, []int64) error {
					if tt.failJobs {
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
			})
			t.Cleanup(in.Close)
			_, err = in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:abc", EventType: "push", Payload: []byte(`{}`)})
			require.Error(t, err, "the delivery is refused (503)")
			assert.Equal(t, tt.committed, errors.Is(err, ErrCommittedUnconfirmed), "%v", err)

			var n int
			require.NoError(t, db.read.QueryRow(`SELECT count(*) FROM webhook_delivery WHERE key = ? AND state = 'pending'`, "github:1:abc").Scan(&n))
			mu.Lock()
			defer mu.Unlock()
			if tt.committed {
				assert.Equal(t, 1, n, "stored")
				assert.Equal(t, []string{"github:1:abc"}, received, "and audited received")
			} else {
				assert.Zero(t, n, "not stored")
				assert.Empty(t, received)
			}
		})
	}
}
