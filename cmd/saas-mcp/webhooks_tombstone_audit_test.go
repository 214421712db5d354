package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// A power cut can leave a delivery's "received" record in the audit log
// (appended beside the segment's fdatasync, synced within 20 ms) and its
// SQLite row (a checkpoint), while its payload record never reached the
// disk. The next start turns the row into a tombstone (state processed,
// outcome torn) and the provider's retry is stored as a new delivery. The
// investigator reading the audit log then sees delivery N received and
// never processed, failed, dead-lettered or replayed, and a second delivery
// of the same key: nothing in the log said that N was dropped, or why
// (found in review). Recovery now audits the tombstone, before it commits,
// as it audits what it rebuilds ("recovered": true).
//
// Not parallel: it sets the process environment.
func TestATombstonedDeliveryIsExplainedInTheAuditLog(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "audit.ndjson")
	t.Setenv("DATA_DIR", dataDir)
	t.Setenv("AUDIT_LOG_PATH", logPath)
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	const secret = "review-secret"
	t.Setenv("GITHUB_WEBHOOK_SECRET", secret)
	t.Setenv("LOG_LEVEL", "error")

	base, stop := runReceiver(t, addr)
	require.Equal(t, http.StatusAccepted, sendGitHub(t, base, secret, "guid-torn"))
	require.Equal(t, 0, stop())

	// The power cut: the segment loses its last, unsynced record.
	segs, err := filepath.Glob(filepath.Join(dataDir, queue.FileName) + ".payloads/*.seg")
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(last, st.Size()-3))

	base, stop = runReceiver(t, addr)
	// The provider, never answered, retries: stored anew.
	require.Equal(t, http.StatusAccepted, sendGitHub(t, base, secret, "guid-torn"))
	require.Equal(t, 0, stop())

	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	var recs []audit.Record
	require.NoError(t, audit.Read(bytes.NewReader(b), func(r audit.Record) error { recs = append(recs, r); return nil }))
	var received []audit.Record
	for _, r := range recs {
		if r.Status == audit.StatusReceived && r.Action == "webhook.issues" {
			received = append(received, r)
		}
	}
	require.Len(t, received, 2, "the first delivery and the provider's retry; log:\n%s", b)
	first := fmt.Sprint(received[0].Details["deliveryId"])
	require.NotEqual(t, first, fmt.Sprint(received[1].Details["deliveryId"]), "the retry is a new delivery")

	var explained []audit.Record
	for _, r := range recs {
		if r.Status != audit.StatusReceived && fmt.Sprint(r.Details["deliveryId"]) == first {
			explained = append(explained, r)
		}
	}
	require.Len(t, explained, 1, "delivery %s (key %s) was tombstoned at start-up, and no audit record says so; log:\n%s",
		first, received[0].IdempotencyKey, b)
	r := explained[0]
	assert.Equal(t, audit.StatusRejected, r.Status, "never answered 2xx: never accepted")
	assert.Equal(t, true, r.Details["torn"])
	assert.Equal(t, received[0].IdempotencyKey, r.IdempotencyKey, "under the key the provider retries with")
	assert.Equal(t, "webhook.issues", r.Action)
	assert.Contains(t, r.Error, "lost in a crash before the delivery was answered")
}
