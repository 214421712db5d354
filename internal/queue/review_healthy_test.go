package queue

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The receiver's /readyz is db.Ping, then the audit log, then
// Intake.Healthy. A delivery refused in the sync stage for a reason that
// is not sticky (the payload directory cannot be synced: segments.Sync
// puts created back and fails every later sync the same way) is refused
// with 503 on every delivery, while neither Ping nor Healthy sees it:
// noteCommit only hears the writer's commit, which succeeded.
func TestReviewReadinessFailsWhileEveryDeliveryIsRefusedInTheSyncStage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path, Options{}) // FULL: the payloads are synced
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var removed atomic.Bool
	in := newIntake(t, db, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error {
		if removed.CompareAndSwap(false, true) {
			// The directory's fsync fails from now on (an EIO on the
			// directory, here: it is gone); the open segment still takes writes.
			return os.RemoveAll(path + ".payloads")
		}
		return nil
	}})
	t.Cleanup(in.Close)
	for i, key := range []string{"github:1:a", "github:1:b", "github:1:c"} {
		_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)})
		require.Error(t, err, "delivery %d is refused (503)", i)
		require.ErrorIs(t, err, ErrCommittedUnconfirmed)
	}
	assert.Error(t, errors.Join(db.Ping(ctx), in.Healthy()),
		"every delivery is refused with 503, and /readyz (db.Ping, then Intake.Healthy) says ready")
}
