package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// seedQueue stores a delivery per key in the queue of dir, dead-letters those
// in dead, and returns their ids in the order of keys.
func seedQueue(t *testing.T, dir string, keys []string, dead ...string) []int64 {
	t.Helper()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(dir, queue.FileName), queue.Options{})
	require.NoError(t, err)
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	require.NoError(t, err)
	ids := make([]int64, len(keys))
	byKey := map[string]int64{}
	for i, key := range keys {
		res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
			Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/w"}}`)})
		require.NoError(t, err)
		ids[i], byKey[key] = res.ID, res.ID
	}
	in.Close()
	var deadIDs []int64
	for _, key := range dead {
		deadIDs = append(deadIDs, byKey[key])
	}
	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := db.DeadLetterStrandedIDs(ctx, tx, deadIDs, 0, "failed 8 times")
		return err
	}))
	require.NoError(t, db.Close())
	return ids
}

// Naming one dead letter twice (by id and by key, or a repeated id from a
// pasted list) replays it once and is a success: the second mention must
// not turn into "delivery is pending already" and exit 1 for a replay that
// went through. Not parallel: the commands read their configuration from
// the environment.
func TestReplayOfADeliveryNamedTwiceReplaysItOnceAndSucceeds(t *testing.T) {
	tests := []struct {
		name string
		refs func(id int64) []string
	}{
		{"named by id and by key", func(id int64) []string { return []string{strconv.FormatInt(id, 10), "github:1:twice"} }},
		{"named by key and by id", func(id int64) []string { return []string{"github:1:twice", strconv.FormatInt(id, 10)} }},
		{"the same id twice", func(id int64) []string { return []string{strconv.FormatInt(id, 10), strconv.FormatInt(id, 10)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DATA_DIR", dir)
			t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
			id := seedQueue(t, dir, []string{"github:1:twice"}, "github:1:twice")[0]

			var stdout, stderr bytes.Buffer
			code := runWebhooksReplay(context.Background(), append(tt.refs(id), "--no-wait"), &stdout, &stderr)
			assert.Equal(t, 0, code, "stdout %q, stderr %q", stdout.String(), stderr.String())
			assert.Contains(t, stdout.String(), "replayed 1 of 1 deliveries")
			assert.Empty(t, stderr.String())
		})
	}
}

// The dead letters are replayed in the order they were named, each once,
// and an unknown reference among them fails the command without holding
// the others back.
func TestReplayKeepsTheOrderNamedAndReportsAnUnknownReference(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	ids := seedQueue(t, dir, []string{"github:1:a", "github:1:b"}, "github:1:a", "github:1:b")
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(dir, queue.FileName), queue.Options{})
	require.NoError(t, err)
	defer db.Close()

	got, err := replayTargets(ctx, db, false, []string{"github:1:b", "github:1:nope", strconv.FormatInt(ids[0], 10), "github:1:b"})
	require.ErrorIs(t, err, queue.ErrNotFound)
	assert.Equal(t, []int64{ids[1], ids[0]}, got)
}

// `webhooks dead` and `webhooks replay` against a DATA_DIR that holds no
// webhook queue (a typo, or the wrong working directory) must say so and
// exit 1, not answer "no dead letters" / "nothing to replay" with exit 0
// while creating an empty queue, a payments ledger and an audit log there.
func TestAdminCommandsOnADataDirWithNoQueueSaySoAndCreateNothing(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"dead", []string{"dead"}},
		{"dead --json", []string{"dead", "--json"}},
		{"replay --all-dead", []string{"replay", "--all-dead"}},
		{"replay --all-dead --no-wait", []string{"replay", "--all-dead", "--no-wait"}},
		{"replay of an id", []string{"replay", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "typo")
			auditPath := filepath.Join(t.TempDir(), "audit.ndjson")
			t.Setenv("DATA_DIR", dir)
			t.Setenv("AUDIT_LOG_PATH", auditPath)
			var stdout, stderr bytes.Buffer
			code := runWebhooks(context.Background(), tt.args, &stdout, &stderr)
			assert.Equal(t, 1, code, "stdout %q, stderr %q", stdout.String(), stderr.String())
			assert.Contains(t, stderr.String(), "no webhook queue in "+dir+`: has "saas-mcp webhooks" run with this DATA_DIR?`)
			assert.Empty(t, stdout.String())
			for _, p := range []string{dir, auditPath} {
				_, err := os.Stat(p)
				assert.True(t, os.IsNotExist(err), "%s was created", p)
			}
		})
	}
}

// tombstoneIn stores a delivery with key in the queue of dir and then loses
// it as a power cut does: the tail of its payload record, never synced and
// so never answered, is cut, and the intake's recovery turns its row into a
// tombstone (see internal/queue/recover.go). replayedBefore then makes the
// tombstone what an earlier version's replay of it left: a dead letter. It
// returns the delivery's id.
func tombstoneIn(t *testing.T, dir, key string, replayedBefore bool) int64 {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, queue.FileName)
	id := seedQueue(t, dir, []string{key})[0]
	segs, err := filepath.Glob(path + ".payloads/*.seg")
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	last := segs[len(segs)-1] // each intake starts a segment; the names sort by number
	st, err := os.Stat(last)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(last, st.Size()-3))

	db, err := queue.Open(ctx, path, queue.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	require.NoError(t, err)
	in.Close()
	require.Equal(t, 1, in.Recovered().Tombstoned)
	if replayedBefore {
		require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`UPDATE webhook_delivery SET state = 'dead', replays = 1, attempts = 1,
				last_error = 'payload damaged or missing' WHERE id = ?`, id)
			return err
		}))
	}
	return id
}

// A tombstone (a delivery whose record a power cut lost before it was
// answered) was never accepted: the provider's retry is a delivery of its
// own. `webhooks replay <id>` of one is refused with that reason, and
// neither `webhooks dead` nor `--all-dead` takes one up, even one that an
// earlier version replayed into a dead letter; the real dead letter beside
// it is replayed.
func TestReplayRefusesTombstonesAndAllDeadLeavesThemOut(t *testing.T) {
	tests := []struct {
		name           string
		replayedBefore bool
		args           func(tomb int64) []string
		code           int
		stdout, stderr string
	}{
		{"a tombstone named by id is refused as never accepted", false,
			func(tomb int64) []string { return []string{strconv.FormatInt(tomb, 10), "--no-wait"} },
			1, "replayed 0 of 1 deliveries", "was never accepted"},
		{"a tombstone replayed into a dead letter before, named by id, is refused", true,
			func(tomb int64) []string { return []string{strconv.FormatInt(tomb, 10), "--no-wait"} },
			1, "replayed 0 of 1 deliveries", "was never accepted"},
		{"--all-dead leaves a tombstone out", false,
			func(int64) []string { return []string{"--all-dead", "--no-wait"} },
			0, "replayed 1 of 1 deliveries", ""},
		{"--all-dead leaves out a tombstone replayed into a dead letter before", true,
			func(int64) []string { return []string{"--all-dead", "--no-wait"} },
			0, "replayed 1 of 1 deliveries", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DATA_DIR", dir)
			t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
			dead := seedQueue(t, dir, []string{"github:1:dead"}, "github:1:dead")[0]
			tomb := tombstoneIn(t, dir, "github:1:lost", tt.replayedBefore)

			listed := listDead(t)
			require.Len(t, listed, 1, "`webhooks dead` lists the dead letter only")
			assert.Equal(t, dead, listed[0].ID)

			var stdout, stderr bytes.Buffer
			code := runWebhooksReplay(context.Background(), tt.args(tomb), &stdout, &stderr)
			assert.Equal(t, tt.code, code, "stdout %q, stderr %q", stdout.String(), stderr.String())
			assert.Contains(t, stdout.String(), tt.stdout)
			if tt.stderr == "" {
				assert.Empty(t, stderr.String())
			} else {
				assert.Contains(t, stderr.String(), tt.stderr)
			}

			db, err := queue.Open(context.Background(), filepath.Join(dir, queue.FileName), queue.Options{})
			require.NoError(t, err)
			defer db.Close()
			d, err := db.Find(context.Background(), strconv.FormatInt(tomb, 10))
			require.NoError(t, err)
			wantReplays := 0
			if tt.replayedBefore {
				wantReplays = 1
			}
			assert.Equal(t, wantReplays, d.Replays, "the tombstone is not replayed")
		})
	}
}
