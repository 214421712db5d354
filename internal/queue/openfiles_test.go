package queue

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openFDsTo lists this process's descriptors open on path, deleted or not.
func openFDsTo(t *testing.T, path string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, path) {
			out = append(out, target)
		}
	}
	return out
}

// twoProcesses opens one database twice, as the receiver (with the intake)
// and a separate worker process on the same DATA_DIR would, stores one
// delivery in a first segment and one in a second, and returns the first
// delivery and its segment.
func twoProcesses(t *testing.T) (recv, wk *DB, in *Intake, old, oldSeg int64) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	recv, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = recv.Close() })
	in = newIntake(t, recv, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	t.Cleanup(in.Close)
	old = enqueueKey(t, in, "github:1:old", `{"n":"old"}`)
	startNextSegment(recv)
	enqueueKey(t, in, "github:1:new", `{"n":"new"}`)
	require.NoError(t, recv.read.QueryRow(`SELECT seg FROM webhook_delivery WHERE id = ?`, old).Scan(&oldSeg))
	wk, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = wk.Close() })
	return recv, wk, in, old, oldSeg
}

// processAndLoad runs a delivery as the worker does: its payload is read,
// then its outcome recorded.
func processAndLoad(t *testing.T, db *DB, id int64) {
	t.Helper()
	ctx := context.Background()
	ds, err := db.Load(ctx, []int64{id})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NoError(t, ds[0].PayloadErr)
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := db.MarkProcessed(ctx, tx, id, "processed")
		return err
	}))
}

// The split the README offers (`webhooks --no-worker` plus `saas-mcp
// worker`): the receiver never prunes, so it must not keep the segments it
// has left open. Once the worker prunes them it would otherwise hold each
// deleted 64 MiB file, and one more descriptor per segment, as long as it
// runs, and WEBHOOK_RETENTION would never free the disk.
func TestTheReceiverDoesNotKeepASegmentTheWorkerPrunedOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	recv, wk, _, old, oldSeg := twoProcesses(t)
	processAndLoad(t, wk, old)
	n, err := wk.Prune(ctx, time.Now().Add(time.Hour), 1000)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.NoFileExists(t, recv.segs.path(oldSeg))

	assert.Empty(t, openFDsTo(t, recv.segs.path(oldSeg)), "the receiver must not keep a pruned segment open")
}

// A process that read a segment must let it go once another process has
// pruned it, though it deleted nothing itself: a worker beside the
// receiver's in-process worker, or a receiver that read payloads (its
// start-up check does) and never prunes.
func TestAProcessLetsGoOfASegmentAnotherProcessPruned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run has reader read the old delivery and pruner prune it, then
		// has reader notice.
		run func(t *testing.T, recv, wk *DB, in *Intake, old int64)
	}{
		{
			name: "a worker whose own prune pass finds nothing left",
			run: func(t *testing.T, recv, wk *DB, _ *Intake, old int64) {
				ctx := context.Background()
				processAndLoad(t, wk, old)
				n, err := recv.Prune(ctx, time.Now().Add(time.Hour), 1000) // the receiver's worker prunes first
				require.NoError(t, err)
				require.Equal(t, int64(1), n)
				n, err = wk.Prune(ctx, time.Now().Add(time.Hour), 1000)
				require.NoError(t, err)
				require.Zero(t, n)
			},
		},
		{
			name: "a receiver that never prunes, when it starts its next segment",
			run: func(t *testing.T, recv, wk *DB, in *Intake, old int64) {
				ctx := context.Background()
				processAndLoad(t, recv, old)
				n, err := wk.Prune(ctx, time.Now().Add(time.Hour), 1000)
				require.NoError(t, err)
				require.Equal(t, int64(1), n)
				startNextSegment(recv)
				enqueueKey(t, in, "github:1:next", `{"n":"next"}`)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recv, wk, in, old, oldSeg := twoProcesses(t)
			tt.run(t, recv, wk, in, old)
			require.NoFileExists(t, recv.segs.path(oldSeg), "the old segment is pruned")
			assert.Empty(t, openFDsTo(t, recv.segs.path(oldSeg)),
				"a pruned segment must not stay open (its disk space is never freed while the process runs)")
		})
	}
}

// The writer leaves a segment (and lets go of its file) while the intake's
// sync of that segment may still be running: the file must stay open until
// the sync is done, or the sync fails and every delivery is refused from
// then on.
func TestASyncStillRunningWhenTheWriterLeavesItsSegmentSucceeds(t *testing.T) {
	t.Parallel()
	s := testSegments(t)
	d := oneDelivery
	a, err := s.append(d("a"))
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	s.syncFile = func(f *os.File) error {
		close(entered)
		<-release
		return fdatasyncFile(f)
	}
	done := make(chan error, 1)
	go func() { done <- s.Sync() }()
	waitFor(t, entered, "the sync")
	s.syncFile = fdatasyncFile
	s.mu.Lock()
	s.curSize = segmentMax
	s.mu.Unlock()
	b, err := s.append(d("b")) // leaves a's segment
	require.NoError(t, err)
	require.Greater(t, b.mark.seg, a.mark.seg)
	close(release)
	require.NoError(t, <-done, "the sync of the segment just left")
	require.NoError(t, s.Sync(), "deliveries are still accepted")
	assert.Empty(t, openFDsTo(t, s.path(a.mark.seg)), "the segment left is closed once its sync is done")
}
