package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// (Found in review.) Before 314221e serve recorded Open's cut with w.Write, which under Sync
// returns once the record is fsynced. RecordRepair calls write directly:
// the record is appended, but neither fsynced nor counted in written, so
// no Flush or Close ever owes an fsync for it (Flush syncs up to
// w.written, which is still 0). The cut itself was fsynced by Open
// (truncateSync): after a power cut the bytes are gone and the record
// saying so can be too, exactly what the commit meant to prevent. A
// short-lived command (webhooks list, which opens the log) closes without
// a single fsync of it.
func TestRecordRepairUnderSyncIsSyncedLikeAWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	whole := `{"ts":"2026-01-01T00:00:00Z","actor":"a","provider":"p","action":"x","target":"","idempotencyKey":"","status":"started","attempts":0,"durationMs":0}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(whole+`{"ts":"2026-01-01T00:00:01Z","act`), 0o640))
	w, err := Open(path, Options{Sync: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	require.NotZero(t, w.Repaired)

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
