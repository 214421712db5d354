package tools

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
)

// README: writeAudit's details are "at most 64 KiB as JSON". Details of
// 20,000 '<' characters are about 20 KB of JSON as sent and as the log
// writes them (the writer does not escape HTML), yet the tool measures them
// with json.Marshal, which writes each '<' as \u003c (6 bytes), and refuses
// a call well within the documented bound.
func TestWriteAuditAcceptsDetailsUnder64KiBOfJSONThatHoldAngleBrackets(t *testing.T) {
	t.Parallel()
	w := openAuditLog(t, nil)
	def, err := WriteAudit(Deps{Audit: w, Now: time.Now})
	require.NoError(t, err)
	args := map[string]any{"provider": "github", "action": "comment", "target": "acme/app#1",
		"details": map[string]any{"html": strings.Repeat("<", 20_000)}}
	c := chain.NewCall(def.Chain, args, "claude", "sandbox", "c1")
	_, err = def.Chain.Run(context.Background(), c)
	require.NoError(t, err, "details of about 20 KB of JSON are refused as over 64 KiB")
}

// A writeAudit call is killed after writing its record and before its key
// is committed, and the wall clock then steps back more than the
// reconciliation margin. Another process sharing the log writes its
// records since then, all stamped by the stepped-back clock. The retry
// reads on only 100 records past the first one stamped before its window
// (maxPastStop), so with 150 such records it never reaches the record and
// writes it a second time: one external action logged twice under one key.
func TestAWriteAuditRetryFindsItsRecordAfterAClockStepBackAndManyRecordsSince(t *testing.T) {
	t.Parallel()
	w := openAuditLog(t, nil)
	def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return claimAt.Add(time.Millisecond) }})
	require.NoError(t, err)
	ctx := context.Background()

	first := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c1")
	first.ClaimedAt = claimAt
	require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
	_, err = def.Chain.Run(ctx, first) // written; killed before the commit
	require.NoError(t, err)

	stepped := claimAt.Add(-time.Hour) // the clock stepped back an hour
	for i := range 150 {
		require.NoError(t, w.Write(ctx, audit.Record{TS: stepped.Add(time.Duration(i) * time.Millisecond),
			Actor: "other", Provider: "slack", Action: "post_message", Target: "#ops", IdempotencyKey: "auto:x",
			Status: audit.StatusSucceeded, Tool: "sendMessage", Env: "sandbox", CallID: "o"}))
	}
	retry := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c2")
	require.NoError(t, w.Write(ctx, startedRecord(retry, stepped.Add(time.Second))))
	_, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
	require.NoError(t, err)
	require.True(t, found, "the record the first attempt wrote is in the log: the retry would write it again")
}
