package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// (Found in review.) serve and webhooks recorded Open's cut with w.Write until 314221e: when
// that append failed, append set lastErr and Healthy (the receiver's
// /readyz) reported it for unhealthyFor. RecordRepair calls write
// directly, bypassing append's bookkeeping, so the same failure at
// start-up leaves Healthy nil: the receiver says ready while its log
// cannot be appended to.
func TestAFailedRecordRepairMakesTheWriterUnhealthyAsAFailedWriteDoes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "audit.ndjson")
	require.NoError(t, os.MkdirAll(dir, 0o750))
	whole := `{"ts":"2026-01-01T00:00:00Z","actor":"a","provider":"p","action":"x","target":"","idempotencyKey":"","status":"started","attempts":0,"durationMs":0}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(whole+`{"ts":"2026-01-01T00:00:01Z","act`), 0o640))
	w, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	require.NotZero(t, w.Repaired)

	// The log's directory is gone: every append fails (lockCurrent cannot
	// reopen the path).
	require.NoError(t, os.RemoveAll(dir))
	require.Error(t, w.RecordRepair(context.Background()))
	require.Error(t, w.Healthy(), "a failed RecordRepair is a failed append: Healthy reports it, as after a failed Write")
}
