package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// A number beyond float64's range in a call's arguments is refused by
// field, as a tool error, and audited (found in a new-user walkthrough:
// mcp-go refused the whole call as unparsable, with a JSON-RPC error that
// named no field, and nothing was audited).
func TestANumberBeyondFloat64IsRefusedByFieldAndAudited(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	// Written by hand: Go's encoder cannot write such numbers.
	s.send(`{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"writeAudit","arguments":{"provider":"github","action":"x","target":"a/b","details":{"n":1e309,"list":[2,-1e400]}}}}`)
	m := s.response("big", 5*time.Second)
	require.True(t, isToolError(m), "a tool error, not a JSON-RPC one: %v", m)
	text := toolText(m)
	assert.Contains(t, text, "details.n: number out of range: 1e309")
	assert.Contains(t, text, "details.list[1]: number out of range: -1e400")
	var statuses []string
	for _, r := range s.records() {
		if r.Tool == "writeAudit" && r.Provider == "audit" {
			statuses = append(statuses, r.Status)
		}
	}
	assert.Equal(t, []string{audit.StatusStarted, audit.StatusRejected}, statuses)
}
