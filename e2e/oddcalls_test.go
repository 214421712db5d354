package e2e

// What the audit log and the agent get for odd calls (found in review),
// driven with the raw JSON-RPC client in rawclient_test.go.

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestAHugeInvalidArgumentIsNotEchoedInFull: the validation error quoted
// the offending value whole (jsonschema's pattern message), and the audit
// middleware wrote the target into the started record and again into the
// rejected one, next to the error that quoted it once more: one rejected
// 4 MB repo value cost the agent 4 MB of context and the audit log 12 MB.
func TestAHugeInvalidArgumentIsNotEchoedInFull(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	huge := strings.Repeat("a", 4<<20)
	s.send(callLine("huge", "createTicket", map[string]any{"repo": huge, "title": "t"}, nil))
	m := s.response("huge", 20*time.Second)
	require.True(t, isToolError(m))
	b, _ := json.Marshal(m["result"])
	assert.Less(t, len(b), 64<<10, "tool error of %d bytes for one invalid argument", len(b))
	st, err := os.Stat(s.auditLog)
	require.NoError(t, err)
	assert.Less(t, st.Size(), int64(1<<20), "audit log of %d bytes after one rejected call", st.Size())
}

// TestEveryTerminalRecordHasTheIssuesFields: the README and issue 2 list
// attempts and durationMs among every audit line's fields; the encoder left
// attempts out when it was 0, so the terminal record of every rejected,
// replayed or writeAudit call had none (a reader could not tell "no
// provider attempt" from "not recorded").
func TestEveryTerminalRecordHasTheIssuesFields(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(callLine("bad", "createTicket", map[string]any{"repo": "acme/app"}, nil))
	s.response("bad", 10*time.Second)
	raw, err := os.ReadFile(s.auditLog)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var term map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &term))
	require.Equal(t, "rejected", term["status"])
	for _, f := range []string{"ts", "actor", "provider", "action", "target", "idempotencyKey", "status", "tool", "env", "callId", "attempts", "durationMs", "error"} {
		assert.Contains(t, term, f, "terminal record: %s", lines[len(lines)-1])
	}
}

// TestAWriteAuditCallHasOneTerminalRecordPerCallID: the record writeAudit
// appended carried the call's own callId and, by default, status
// "succeeded", so its call showed two terminal records under one callId,
// and a reader grouping the log by callId counted two outcomes for one
// call. The call's terminal record names the record written instead.
func TestAWriteAuditCallHasOneTerminalRecordPerCallID(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(callLine("w", "writeAudit", map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1"}, nil))
	m := s.response("w", 10*time.Second)
	require.False(t, isToolError(m), "%v", m)
	byCall := map[string][]string{}
	for _, r := range s.records() {
		byCall[r.CallID] = append(byCall[r.CallID], r.Status)
	}
	for id, statuses := range byCall {
		terminal := 0
		for _, st := range statuses {
			switch st {
			case audit.StatusSucceeded, audit.StatusFailed, audit.StatusReplayed, audit.StatusRejected:
				terminal++
			}
		}
		assert.Equal(t, 1, terminal, "callId %s: %v", id, statuses)
	}
}
