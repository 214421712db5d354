package tools

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A writeAudit call is killed after its record is written and before its
// key is committed; the wall clock has stepped back since its claim. The
// retry must still find the record and not write it again (both found in
// review):
//   - a step of milliseconds stamped the record before the claim, and the
//     check matches only records stamped at or after it: the record is now
//     stamped no earlier than its claim;
//   - a step of more than reconcileMargin (a minute) stamps the retry's own
//     started record before the check's window, and the check, reading the
//     log from its end, stopped at that first old stamp: it now reads on.
func TestAWriteAuditRetryAfterAClockStepBackFindsTheRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		step          time.Duration
		retryStartsAt bool // the retry's started record is in the log, stamped by the stepped-back clock
	}{
		{"a step of milliseconds", 5 * time.Millisecond, false},
		{"a step of more than a minute", 2 * time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			red := redact.New("my-secret-value")
			w := openAuditLog(t, red)
			now := claimAt.Add(-tc.step) // the clock stepped back after the claim
			def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return now }, Redactor: red})
			require.NoError(t, err)
			ctx := context.Background()

			first := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c1")
			first.ClaimedAt = claimAt // as the idempotency middleware sets it
			require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
			_, err = def.Chain.Run(ctx, first) // written; killed before the commit
			require.NoError(t, err)

			retry := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c2")
			if tc.retryStartsAt {
				require.NoError(t, w.Write(ctx, startedRecord(retry, now)))
			}
			_, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
			require.NoError(t, err)
			require.True(t, found, "the record the first attempt wrote is in the log: the retry would write it again")
		})
	}
}
