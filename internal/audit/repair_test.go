package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
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

// The cut of another process's partial line is durable at once, but its
// audit.repair record rides with the next append: when that append fails
// (disk full) and is taken back, the repair line goes with it, and the next
// append finds no partial line left to cut. The record must come with the
// next append that succeeds, or the log says nothing of the cut.
//
// Not parallel: RLIMIT_FSIZE is per process.
func TestTheRepairOfAPartialLineIsRecordedEvenWhenTheAppendCarryingItFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "serve", Status: StatusStarted, Target: "first"}))
	st, err := os.Stat(path)
	require.NoError(t, err)

	// Another process killed in the middle of its write(2).
	partial := `{"ts":"2026-01-01T00:00:00Z","actor":"webhook:github","provider":"gith`
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte(partial))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// The disk is full: room for part of one line only.
	var werr error
	withFileSizeLimit(t, st.Size()+64, func() {
		werr = w.Write(ctx, Record{Actor: "serve", Status: StatusStarted, Target: strings.Repeat("x", 500)})
	})
	require.Error(t, werr, "the append is refused")

	require.NoError(t, w.Write(ctx, Record{Actor: "serve", Status: StatusStarted, Target: "third"}))
	require.NoError(t, w.Write(ctx, Record{Actor: "serve", Status: StatusStarted, Target: "fourth"}))
	require.NoError(t, w.Close())

	recs := readAll(t, path)
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Target)
	}
	require.Equal(t, []string{":first", "audit.repair:" + path, ":third", ":fourth"}, got,
		"one audit.repair record, with the next append that succeeds")
	assert.EqualValues(t, len(partial), recs[1].Details["bytesRemoved"])
}
