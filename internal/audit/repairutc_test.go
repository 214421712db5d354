package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// (Found in review.) 18cdebd writes every record's ts in UTC, but only in append: the
// audit.repair record is built by repairLine and encoded straight to the
// line, never passing through append, so it keeps the zone of Options.Now
// (time.Now: local time). Since 314221e Open's cut is recorded that way
// too (RecordRepair, or the first append that carries it), where serve
// used to write it through Write.
func TestRepairRecordIsStampedInUTC(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("UTC+5", 5*3600)
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	whole := `{"ts":"2026-01-01T00:00:00Z","actor":"a","provider":"p","action":"x","target":"","idempotencyKey":"","status":"started","attempts":0,"durationMs":0}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(whole+`{"ts":"2026-01-01T00:00:01Z","act`), 0o640))
	w, err := Open(path, Options{Now: func() time.Time { return time.Date(2026, 12, 5, 16, 0, 0, 0, zone) }})
	require.NoError(t, err)
	require.NotZero(t, w.Repaired)
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
