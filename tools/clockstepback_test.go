package tools

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// (Found in review of 49b46ab.) 49b46ab stamps the record no earlier than its claim "so a retry after a
// wall-clock step back still finds it". With a step back of more than
// reconcileMargin (a minute), the retry's own started record (appended
// after the record written, stamped by the stepped-back clock) is the first
// record ReadBack meets; it is older than since-reconcileMargin, so
// findWritten stops there with reachBack=true and reports "not found" in a
// log that holds the record: the retry writes it a second time.
func TestAWriteAuditRetryAfterAClockStepBackOfMoreThanAMinuteFindsTheRecord(t *testing.T) {
	t.Parallel()
	red := redact.New("my-secret-value")
	w := openAuditLog(t, red)
	now := claimAt.Add(-2 * time.Minute) // stepped back two minutes after the claim
	def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return now }, Redactor: red})
	require.NoError(t, err)
	ctx := context.Background()

	first := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c1")
	first.ClaimedAt = claimAt
	require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
	_, err = def.Chain.Run(ctx, first) // written (stamped at the claim); killed before the commit
	require.NoError(t, err)

	retry := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c2")
	require.NoError(t, w.Write(ctx, startedRecord(retry, now))) // the retry's started record, stepped-back clock
	_, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
	require.NoError(t, err)
	require.True(t, found, "the record the first attempt wrote is in the log: the retry would write it again")
}
