package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A client that writes its calls and closes stdin (a pipe, or a client
// shutting down as the MCP spec asks: close stdin, then wait for the exit)
// gets every call answered with its result before serve exits, the slow
// one included; none is cancelled by the end of input (found in review:
// `printf ... | saas-mcp serve` answered every call "the client cancelled
// the call before anything was sent").
func TestCallsWrittenBeforeTheEndOfInputFinishAndAnswer(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 300 * time.Millisecond})
	lines := []string{callLine("slow", "createTicket", map[string]any{"repo": "acme/app", "title": "before eof"}, nil)}
	for i := range 4 {
		lines = append(lines, callLine(fmt.Sprint("a", i), "writeAudit",
			map[string]any{"provider": "github", "action": "note", "target": fmt.Sprint("acme/app#", i)}, nil))
	}
	s.send(lines...)
	require.NoError(t, s.stdin.Close())
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after the end of input")
	}
	require.NoError(t, s.cmd.Wait(), "stderr: %s", s.stderr.String())
	for _, id := range []string{"slow", "a0", "a1", "a2", "a3"} {
		m := s.response(id, time.Second)
		assert.False(t, isToolError(m), "call %s: %v", id, m["result"])
	}
	assert.Len(t, s.fake.GitHubIssues("acme/app"), 1)
	assert.Empty(t, s.badLines())
}
