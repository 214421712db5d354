package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve and `saas-mcp webhooks` append to one AUDIT_LOG_PATH (the default),
// each under the flock. A process killed by SIGKILL in the middle of a
// large write(2) leaves a partial line at the end; the process still
// running must cut it off (and record the cut) before its next record, or
// that record would be glued to it: a broken line in the middle of the log
// that no later start repairs.
func TestAPartialLineLeftByAnotherProcessIsCutBeforeTheNextRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	survivor, err := Open(path, Options{})
	require.NoError(t, err)
	defer survivor.Close()
	require.NoError(t, survivor.Write(ctx, Record{Actor: "serve", Status: StatusStarted, Target: "first"}))

	// The receiver, killed in the middle of its receipts' write(2).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte(`{"ts":"2026-01-01T00:00:00Z","actor":"webhook:github","provider":"github","action":"webhook.pu`))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.NoError(t, survivor.Write(ctx, Record{Actor: "serve", Status: StatusSucceeded, Target: "second"}))

	restarted, err := Open(path, Options{}) // the receiver comes back
	require.NoError(t, err)
	require.NoError(t, restarted.Close())

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var targets []string
	err = Read(bytes.NewReader(b), func(r Record) error { targets = append(targets, r.Target); return nil })
	assert.NoError(t, err, "the log must stay valid NDJSON:\n%s", b)
	assert.Equal(t, []string{"first", path, "second"}, targets, "the survivor's record is whole, after the repair's")
}
