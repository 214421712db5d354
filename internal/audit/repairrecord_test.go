package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The record of a torn last line that Open cuts off (RecordRepair, or the
// first append that carries it) is a record like any other: written even
// when the context has ended, synced under Sync, reported by Healthy when
// it fails, stamped in UTC. Each was found in review of the change that
// moved it out of serve's own w.Write.

// openTornLog writes a log whose last line is torn into dir and opens it.
func openTornLog(t *testing.T, dir string, opts Options) (*Writer, string) {
	t.Helper()
	path := filepath.Join(dir, "audit.ndjson")
	whole := `{"ts":"2026-01-01T00:00:00Z","actor":"a","provider":"p","action":"x","target":"","idempotencyKey":"","status":"started","attempts":0,"durationMs":0}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(whole+`{"ts":"2026-01-01T00:00:01Z","act`), 0o640))
	w, err := Open(path, opts)
	require.NoError(t, err)
	require.NotZero(t, w.Repaired)
	return w, path
}

// A stop signal during start-up (serve, webhooks and worker pass the signal
// context) ends ctx after Open cut the line: no append follows in a
// stopping process and the next start finds nothing to cut, so the record
// must be written anyway.
func TestRecordRepairWithAnEndedContextStillRecordsTheCut(t *testing.T) {
	t.Parallel()
	w, path := openTornLog(t, t.TempDir(), Options{Sync: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = w.RecordRepair(ctx)
	require.NoError(t, w.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Contains(raw, []byte(`"action":"audit.repair"`)),
		"the torn line is gone and no audit.repair record says so: %s", raw)
}

// Under Sync the record counts as written, so Flush and Close owe its
// fsync, and RecordRepair returns once it is on disk, as Write does (Open
// synced the cut itself at once).
func TestRecordRepairUnderSyncIsSyncedLikeAWrite(t *testing.T) {
	t.Parallel()
	w, path := openTornLog(t, t.TempDir(), Options{Sync: true})
	t.Cleanup(func() { _ = w.Close() })
	require.NoError(t, w.RecordRepair(context.Background()))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 2, bytes.Count(raw, []byte("\n")), "the repair record is in the file")
	w.mu.Lock()
	written := w.written
	w.mu.Unlock()
	w.smu.Lock()
	synced := w.synced
	w.smu.Unlock()
	require.Equal(t, uint64(1), written, "the repair record counts as written, so Flush and Close owe its fsync")
	require.Equal(t, uint64(1), synced, "under Sync, RecordRepair returns once its record is on disk, as Write does")
}

// A failed RecordRepair is a failed append: Healthy (the receiver's
// /readyz) reports it, as after a failed Write.
func TestAFailedRecordRepairMakesTheWriterUnhealthyAsAFailedWriteDoes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.MkdirAll(dir, 0o750))
	w, _ := openTornLog(t, dir, Options{})
	t.Cleanup(func() { _ = w.Close() })
	require.NoError(t, os.RemoveAll(dir)) // every append fails: lockCurrent cannot reopen the path
	require.Error(t, w.RecordRepair(context.Background()))
	require.Error(t, w.Healthy(), "a failed RecordRepair is a failed append: Healthy reports it, as after a failed Write")
}

// The repair record is encoded by repairLine, not append: it is stamped in
// UTC all the same.
func TestRepairRecordIsStampedInUTC(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("UTC+5", 5*3600)
	w, path := openTornLog(t, t.TempDir(), Options{Now: func() time.Time { return time.Date(2026, 12, 5, 16, 0, 0, 0, zone) }})
	require.NoError(t, w.RecordRepair(context.Background()))
	require.NoError(t, w.Write(context.Background(), Record{Action: "next"}))
	require.NoError(t, w.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[1], `"action":"audit.repair"`)
	require.Contains(t, lines[2], `"ts":"2026-12-05T11:00:00Z"`, "an ordinary record is in UTC")
	require.Contains(t, lines[1], `"ts":"2026-12-05T11:00:00Z"`, "the repair record is in UTC too:\n%s", lines[1])
}
