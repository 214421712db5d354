package tools

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// The claim is stamped by the idempotency middleware's clock, the record by
// writeAudit's, a moment later on the same wall clock. A wall clock stepped
// back by NTP in that moment (here 5 ms) stamps the record before the
// claim; the process is then killed before the key is committed. The retry
// reads the log back from a minute before the claim (reconcileMargin), sees
// the record and the first attempt's started record, but matches only
// records stamped at or after the claim, so it reports "not found" in a log
// that reaches back, and writeAudit appended the same record a second time
// (found in review). The record is now stamped no earlier than its claim.
func TestAWriteAuditRecordIsNeverStampedBeforeItsClaim(t *testing.T) {
	t.Parallel()
	red := redact.New("my-secret-value")
	w := openAuditLog(t, red)
	now := claimAt.Add(-5 * time.Millisecond) // the clock stepped back after the claim
	def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return now }, Redactor: red})
	require.NoError(t, err)
	ctx := context.Background()

	first := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c1")
	first.ClaimedAt = claimAt // as the idempotency middleware sets it
	require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
	_, err = def.Chain.Run(ctx, first) // written; killed before the commit
	require.NoError(t, err)

	retry := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c2")
	_, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
	require.NoError(t, err)
	require.True(t, found, "the record the first attempt wrote is in the log, a few ms before the claim: the retry would write it again")
}
