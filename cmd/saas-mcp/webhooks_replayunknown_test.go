package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// `saas-mcp webhooks replay <known> <typo>`: the unknown reference fails the
// command (exit 1, named on stderr) but does not hold the known dead letter
// back, as worker.Replay's "one that cannot be replayed (still queued,
// unknown, a tombstone) does not hold back the others" and
// TestReplayKeepsTheOrderNamedAndReportsAnUnknownReference intend.
// runWebhooksReplay returned on replayTargets' error before replaying
// anything (found in review): one mistyped id in a pasted list of fifty
// replayed none of them.
// Not parallel: the command reads its configuration from the environment.
func TestReplayOfAKnownAndAnUnknownDeliveryReplaysTheKnownOneAndExitsOne(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	seedQueue(t, dir, []string{"github:1:known"}, "github:1:known")

	var stdout, stderr bytes.Buffer
	code := runWebhooksReplay(context.Background(), []string{"github:1:known", "github:1:typo", "--no-wait"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "github:1:typo")

	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(dir, queue.FileName), queue.Options{})
	require.NoError(t, err)
	defer db.Close()
	d, err := db.Find(ctx, "github:1:known")
	require.NoError(t, err)
	assert.Equal(t, 1, d.Replays, "the known dead letter was replayed; stdout %q, stderr %q", stdout.String(), stderr.String())
	assert.Equal(t, queue.StatePending, d.State)
	assert.Contains(t, stdout.String(), "replayed 1 of 2 deliveries")
}

// `saas-mcp webhooks replay <known> <typo> <typo>`: a reference named twice
// is one reference, whether it names a delivery or not (replayTargets
// names each delivery once, "one named twice ... twice in a pasted list").
// The summary counted the known one once but the unknown one twice
// (found in review): "replayed 1 of 3 deliveries" for two references.
// Not parallel: the command reads its configuration from the environment.
func TestReplayCountsAnUnknownReferenceNamedTwiceOnceInItsSummary(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	seedQueue(t, dir, []string{"github:1:known"}, "github:1:known")

	var stdout, stderr bytes.Buffer
	code := runWebhooksReplay(context.Background(),
		[]string{"github:1:known", "github:1:typo", "github:1:known", "github:1:typo", "--no-wait"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout.String(), "replayed 1 of 2 deliveries", "stderr %q", stderr.String())
}
