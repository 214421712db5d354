package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Review of e16dcff: RecordRepair now returns at once when its ctx has
// ended. serve, webhooks and worker pass the signal context, so a SIGTERM
// while starting (a rolling deploy stopping a process just started, a
// clean stop by the README) that lands after Open cut the torn line and
// before RecordRepair leaves the cut, already durable, with no record:
// no append follows in a process that is stopping, and the next start
// finds nothing left to cut. Before e16dcff the record was still written
// (write's flock.Lock takes a free lock whatever the ctx). The record of a
// cut already made is a terminal record, which append's comment says is
// written with a context that cannot end.
func TestRecordRepairWithAnEndedContextStillRecordsTheCut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	whole := `{"ts":"2026-01-01T00:00:00Z","actor":"a","provider":"p","action":"x","target":"","idempotencyKey":"","status":"started","attempts":0,"durationMs":0}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(whole+`{"ts":"2026-01-01T00:00:01Z","act`), 0o640))
	w, err := Open(path, Options{Sync: true})
	require.NoError(t, err)
	require.NotZero(t, w.Repaired)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the stop signal came while starting
	_ = w.RecordRepair(ctx)
	require.NoError(t, w.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Contains(raw, []byte(`"action":"audit.repair"`)),
		"the torn line is gone and no audit.repair record says so: %s", raw)
}
