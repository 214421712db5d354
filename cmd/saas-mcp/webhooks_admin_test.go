package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// deadEntry is one line of `webhooks dead --json`.
type deadEntry struct {
	ID        int64  `json:"id"`
	Key       string `json:"key"`
	State     string `json:"state"`
	LastError string `json:"lastError"`
}

func listDead(t *testing.T) []deadEntry {
	t.Helper()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, runWebhooksDead(context.Background(), []string{"--json"}, &stdout, &stderr), stderr.String())
	var out []deadEntry
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		var e deadEntry
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		out = append(out, e)
	}
	return out
}

// A dead letter and a stranded delivery (pending, no job will run it) are
// both listed by `webhooks dead`, and `webhooks replay --all-dead` runs both
// to the end, after which nothing is listed. Not parallel: the commands read
// their configuration from the environment.
func TestWebhooksDeadListsDeadAndStrandedAndReplayRunsThem(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("GITHUB_WEBHOOK_SECRET", "admin-secret")
	ctx := context.Background()

	db, err := queue.Open(ctx, filepath.Join(dir, queue.FileName), queue.Options{})
	require.NoError(t, err)
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	require.NoError(t, err)
	var ids []int64
	for _, key := range []string{"github:1:dead", "github:1:stranded"} {
		res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues", Target: "acme/widgets",
			Payload: []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/widgets"}}`)})
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	in.Close()
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := db.DeadLetterStrandedIDs(ctx, tx, ids[:1], 0, "handler failed 8 times")
		return err
	}))
	require.NoError(t, db.Close())

	listed := listDead(t)
	require.Len(t, listed, 2)
	assert.Equal(t, deadEntry{ID: ids[0], Key: "github:1:dead", State: "dead", LastError: "handler failed 8 times"}, listed[0])
	assert.Equal(t, "github:1:stranded", listed[1].Key)
	assert.Equal(t, "stranded", listed[1].State)

	var stdout, stderr bytes.Buffer
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.Equal(t, 0, runWebhooksReplay(runCtx, []string{"--all-dead"}, &stdout, &stderr), stderr.String())
	assert.Empty(t, listDead(t), "both ran to the end")

	db, err = queue.Open(ctx, filepath.Join(dir, queue.FileName), queue.Options{})
	require.NoError(t, err)
	defer db.Close()
	for _, key := range []string{"github:1:dead", "github:1:stranded"} {
		d, err := db.Find(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, queue.StateProcessed, d.State, key)
	}
}

// The dead-letter table's error column is cut at a character boundary, so
// a long error in another script stays valid UTF-8 (found in review).
func TestADeadLettersErrorIsCutAtACharacterBoundary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short text is kept", "bad  gateway\n", 20, "bad gateway"},
		{"ASCII is cut to n with an ellipsis", "abcdefghij", 5, "abcd…"},
		{"a character across the cut is left out whole", "ééééé", 6, "éé…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := oneLine(tc.in, tc.n)
			assert.Equal(t, tc.want, got)
			assert.True(t, utf8.ValidString(got))
		})
	}
}
