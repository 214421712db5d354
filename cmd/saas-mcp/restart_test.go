package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// A half-written last audit line (a crash mid-write) is cut off at start-up
// and an audit.repair record says how many bytes went, whichever command
// starts next: the receiver makes the largest appends (a group commit's
// receipts in one write(2)), so it is the likeliest to find one.
//
// Not parallel: it sets the process environment.
func TestWebhooksStartingAfterACrashMidWriteRecordsTheRepair(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.ndjson")
	torn := `{"ts":"2026-01-01T00:00:00Z","actor":"webhook:github","provider":"github","action":"webhook.push","status":"rec`
	require.NoError(t, os.WriteFile(logPath, []byte(`{"ts":"2026-01-01T00:00:00Z","actor":"a","status":"started"}`+"\n"+torn), 0o640))
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", logPath)
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	t.Setenv("GITHUB_WEBHOOK_SECRET", "review-secret")
	t.Setenv("LOG_LEVEL", "error")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // a SIGTERM once it is up
		for ctx.Err() == nil {
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var stderr bytes.Buffer
	require.Equal(t, 0, runWebhooks(ctx, []string{"--no-worker"}, io.Discard, &stderr), stderr.String())

	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.NotContains(t, string(b), torn, "the torn line was cut")
	var repairs []audit.Record
	require.NoError(t, audit.Read(bytes.NewReader(b), func(r audit.Record) error {
		if r.Action == "audit.repair" {
			repairs = append(repairs, r)
		}
		return nil
	}))
	assert.Len(t, repairs, 1, "an audit.repair record says how many bytes went; the log now holds:\n%s", b)
}

// After a power cut, a claim is all that may explain a call that acted (its
// started record is synced in the background). A host that comes back after
// an outage longer than the key's window finds the claim expired; it must
// still be listed at start-up, before the prune deletes it.
func TestAClaimInDoubtIsListedAfterAnOutageLongerThanItsWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
	require.NoError(t, err)
	defer db.Close()

	claimedAt := time.Now().Add(-30 * time.Minute) // the power cut, half an hour ago
	dead := "otherhost:deadbeef:4026531836:4242:12345"
	_, out, err := db.Keys().Claim(ctx, idempotency.Claim{Key: "auto:createTicket:abc", Tool: "createTicket", ArgsHash: "h",
		Target: "acme/app", Owner: dead, LeaseUntil: claimedAt.Add(5 * time.Minute), ExpiresAt: claimedAt.Add(10 * time.Minute)},
		claimedAt, idempotency.Alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	// The call then sent its request; its Commit was lost with the power.

	var sink restartSink
	reportInDoubt(ctx, db.Keys(), &sink, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now())
	var keys []string
	for _, r := range sink.recs {
		if r.Action == "idempotency.in_doubt" {
			keys = append(keys, r.IdempotencyKey)
		}
	}
	require.Len(t, keys, 1, "the claim whose call may have acted is listed at start-up")
	assert.Equal(t, true, sink.recs[len(sink.recs)-1].Details["expired"], "and said to be expired: a new call acts again")
}

// restartSink keeps every record it is given, and answers fail (nil: the
// write succeeded).
type restartSink struct {
	recs []audit.Record
	fail error
}

func (s *restartSink) Write(_ context.Context, r audit.Record) error {
	s.recs = append(s.recs, r)
	return s.fail
}

// TestAKeyInDoubtIsNamedBeforeALaterPruneDeletesIt: a long-running serve
// prunes every 10 minutes. A key left in doubt by another process sharing
// DATA_DIR (killed mid-call) can expire while this one runs; its row is
// the only trace of a call that may have acted, and the start-up report
// never saw it. The prune must name it in the audit log before deleting
// it (found in review). The prune right after start-up does not name it
// again: the start-up report just did.
func TestAKeyInDoubtIsNamedBeforeALaterPruneDeletesIt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		report bool
	}{{"a later prune", true}, {"the prune at start-up", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
			require.NoError(t, err)
			defer db.Close()
			claimedAt := time.Now().Add(-30 * time.Minute)
			sibling := "otherhost:deadbeef:4026531836:4242:12345"
			_, out, err := db.Keys().Claim(ctx, idempotency.Claim{Key: "auto:sendMessage:abc", Tool: "sendMessage", ArgsHash: "h",
				Target: "C0GENERAL", Owner: sibling, LeaseUntil: claimedAt.Add(5 * time.Minute), ExpiresAt: claimedAt.Add(10 * time.Minute)},
				claimedAt, idempotency.Alive)
			require.NoError(t, err)
			require.Equal(t, idempotency.Acquired, out)

			var sink restartSink
			pruneOnce(ctx, db.Keys(), &sink, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now(), tt.report)
			_, found, err := db.Keys().Get(ctx, "auto:sendMessage:abc")
			require.NoError(t, err)
			assert.False(t, found, "the expired key is pruned")
			var named []audit.Record
			for _, r := range sink.recs {
				if r.Action == "idempotency.in_doubt" {
					named = append(named, r)
				}
			}
			if !tt.report {
				assert.Empty(t, named)
				return
			}
			require.Len(t, named, 1, "the key is named before its row goes")
			assert.Equal(t, "auto:sendMessage:abc", named[0].IdempotencyKey)
			assert.Equal(t, true, named[0].Details["expired"])
		})
	}
}
