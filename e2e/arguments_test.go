package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestArgumentsThatAreNotAnObjectAreRefusedAsSuch: tool arguments must be a
// JSON object. Anything else (an array, or the object JSON-encoded into a
// string, as some clients send it) used to be taken for {}, and the agent
// was told to add the fields it had sent. Such a call is refused, audited
// started and rejected, with an error saying what was sent instead, and
// nothing reaches a provider. Absent arguments (null or left out) are {}.
func TestArgumentsThatAreNotAnObjectAreRefusedAsSuch(t *testing.T) {
	t.Parallel()
	withArgs := func(args any) string { return callLine("call", "createTicket", args, nil) }
	for _, tc := range []struct {
		name string
		line string
		want string
	}{
		{"an object encoded into a string", withArgs(`{"repo":"acme/app","title":"Deploy failed"}`),
			"invalid arguments for createTicket: arguments: must be an object, got a string holding a JSON object; send the object itself, not encoded into a string"},
		{"an array", withArgs([]any{"acme/app", "Deploy failed"}),
			"invalid arguments for createTicket: arguments: must be an object, got array"},
		{"a string", withArgs("acme/app"), "invalid arguments for createTicket: arguments: must be an object, got string"},
		{"a number", withArgs(7), "invalid arguments for createTicket: arguments: must be an object, got number"},
		{"a boolean", withArgs(true), "invalid arguments for createTicket: arguments: must be an object, got boolean"},
		{"null, taken for no arguments", withArgs(nil),
			"invalid arguments for createTicket: repo: is required; title: is required"},
		{"left out, taken for no arguments", `{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"createTicket"}}`,
			"invalid arguments for createTicket: repo: is required; title: is required"},
	} {
		t.Run(fmt.Sprint("arguments that are ", tc.name), func(t *testing.T) {
			t.Parallel()
			s := startRaw(t, nil)
			s.send(tc.line)
			m := s.response("call", 10*time.Second)
			require.True(t, isToolError(m), "%v", m)
			var res struct {
				Content []struct{ Text string } `json:"content"`
			}
			b, _ := json.Marshal(m["result"])
			require.NoError(t, json.Unmarshal(b, &res))
			require.Len(t, res.Content, 1)
			assert.Equal(t, tc.want, res.Content[0].Text)
			assert.Empty(t, s.fake.Requests(), "nothing reaches a provider")
			statuses, lastErr := statusesOf(s.records(), "createTicket")
			assert.Equal(t, []string{audit.StatusStarted, audit.StatusRejected}, statuses)
			assert.Equal(t, tc.want, lastErr)
		})
	}
}
