package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestAWriteAuditKilledAfterWritingIsNotWrittenTwice: the README says that
// without idempotencyKey, identical writeAudit records within
// IDEMPOTENCY_WINDOW are written once (and a key names one record). A serve
// killed after the record was appended but before the key was committed
// leaves the key claimed by a dead process; the retry the agent makes after
// the restart takes the key over and must find the record in the log, not
// append it a second time (the log would then tell of two identical external
// actions where there was one), and answer it as the first call would have.
func TestAWriteAuditKilledAfterWritingIsNotWrittenTwice(t *testing.T) {
	t.Parallel()
	for _, withKey := range []bool{false, true} {
		name := "derived key"
		if withKey {
			name = "explicit key"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := start(t, fastEnv(map[string]string{"SAAS_MCP_FAILPOINT": "after_response"}))
			args := map[string]any{"provider": "pagerduty", "action": "ack-" + name, "target": "P1",
				"details": map[string]any{"incident": 4711, "note": "<acked> & paged"}}
			if withKey {
				args["idempotencyKey"] = "ack-once"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := try(ctx, h.session, "writeAudit", args)
			require.Error(t, err, "the server died after writing the record")
			h.restart(map[string]string{"SAAS_MCP_FAILPOINT": ""})

			out := structured(t, h.call("writeAudit", args))
			var written, replayed []audit.Record
			for _, r := range h.records() {
				switch {
				case r.Action == args["action"] && r.CallID == "":
					written = append(written, r)
				case r.Tool == "writeAudit" && r.Status == audit.StatusReplayed:
					replayed = append(replayed, r)
				}
			}
			require.Len(t, written, 1, "one record for one key (the retry answered replayed=%v)", out["replayed"])
			assert.Equal(t, true, out["replayed"], "the retry found the record the first attempt wrote")
			assert.Equal(t, firstAnswer(t, written[0]), out, "the retry answers the record as the first call would have")
			require.Len(t, replayed, 1)
			found, _ := replayed[0].Details["found"].(map[string]any)
			assert.Equal(t, written[0].TS.Format(time.RFC3339Nano), found["ts"],
				"the retry's terminal record names the record found, as the first attempt's would have")
		})
	}
}

// firstAnswer is writeAudit's result for the record it wrote, as a retry
// gets it: replayed.
func firstAnswer(t *testing.T, rec audit.Record) map[string]any {
	t.Helper()
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(b, &want))
	want["replayed"] = true
	return want
}

// TestAWriteAuditKilledBeforeWritingIsWrittenByItsRetry: a serve killed
// after the key was claimed but before the record was appended leaves the
// key in doubt as well; the retry looks in the log, which reaches back to
// the claim (the call's started record is there), finds nothing and writes
// the record once: looking must not block a record that was never written.
func TestAWriteAuditKilledBeforeWritingIsWrittenByItsRetry(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(map[string]string{"SAAS_MCP_FAILPOINT": "before_send", "RECONCILE_SETTLE": "100ms"}))
	args := map[string]any{"provider": "pagerduty", "action": "ack-unwritten", "target": "P1"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := try(ctx, h.session, "writeAudit", args)
	require.Error(t, err, "the server died before writing the record")
	h.restart(map[string]string{"SAAS_MCP_FAILPOINT": ""})

	out := structured(t, h.call("writeAudit", args))
	assert.Equal(t, false, out["replayed"], "nothing was written to replay")
	written := 0
	for _, r := range h.records() {
		if r.Action == args["action"] && r.CallID == "" {
			written++
		}
	}
	assert.Equal(t, 1, written, "the retry wrote the record once")
}
