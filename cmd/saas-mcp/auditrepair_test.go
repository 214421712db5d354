package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// A process killed mid-write leaves a partial last line; the next start
// (serve, webhooks, worker) cuts it in audit.Open and records the cut with
// recordRepair. When that one append failed (the disk is still full, which
// is when writes get cut short in the first place; or the flock is busy
// for 5 s; or start-up is cancelled), the error is dropped: the bytes are
// gone for good and no later append ever says so, although the running
// writer carries an unrecorded cut of its own (unrecordedCut) to the next
// append that succeeds. The log could no longer explain the vanished bytes
// (found in review). The cut now rides with the first append that succeeds.
//
// Not parallel: RLIMIT_FSIZE is per process.
func TestAStartUpRepairIsRecordedEvenWhenItsFirstAppendFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	whole := `{"ts":"2026-01-01T00:00:00Z","actor":"serve","provider":"github","action":"create_issue","target":"o/r","idempotencyKey":"k","status":"started","attempts":0,"durationMs":0}` + "\n"
	partial := `{"ts":"2026-01-01T00:00:01Z","actor":"webhook:github","provider":"gith`
	require.NoError(t, os.WriteFile(path, []byte(whole+partial), 0o640))

	w, err := audit.Open(path, audit.Options{})
	require.NoError(t, err)
	defer w.Close()
	require.EqualValues(t, len(partial), w.Repaired, "Open cut the partial line")

	// The disk is still full at start-up: recordRepair's append fails.
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	lim := old
	lim.Cur = uint64(len(whole) + 16)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	recordRepair(context.Background(), w, newLogger(io.Discard, "error", nil))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))

	// Room again: the next records go in.
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, audit.Record{Actor: "serve", Provider: "github", Action: "create_issue", Status: audit.StatusStarted}))
	require.NoError(t, w.Close())

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var actions []string
	require.NoError(t, audit.Read(f, func(r audit.Record) error { actions = append(actions, r.Action); return nil }))
	assert.Contains(t, actions, "audit.repair",
		"the %d bytes cut at start-up are recorded by the first append that succeeds; log actions: %s",
		len(partial), strings.Join(actions, ","))
}
