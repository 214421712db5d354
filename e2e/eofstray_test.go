package e2e

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A line with an id and no method (here a client's JSON-RPC error
// response to nothing pending) does not let a later call go unanswered.
// Found in review: HoldEOF did not count it as a request, but mcp-go
// answers it ("Method  not found", with that id), and the answer was
// counted: answers then ran ahead of requests, so a big call read
// afterwards was not owed its answer, the end of input passed after 50 ms
// of quiet while mcp-go was still parsing it, and the call was cancelled.
func TestAStrayAnswerLineDoesNotCancelABigLastCall(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(`{"jsonrpc":"2.0","id":"stale","error":{"code":-32601,"message":"no"}}`)
	stale := s.response("stale", 10*time.Second)
	require.NotNil(t, stale, "mcp-go answers the response line")
	line := callLine("big", "createTicket", map[string]any{"repo": "acme/app", "title": "big line"}, nil)
	line = "{" + strings.Repeat(" ", 24<<20) + line[1:]
	require.True(t, json.Valid([]byte(line)))
	_, err := io.WriteString(s.stdin, line+"\n")
	require.NoError(t, err)
	require.NoError(t, s.stdin.Close())
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after the end of input")
	}
	require.NoError(t, s.cmd.Wait(), "stderr: %s", s.stderr.String())
	m := s.response("big", time.Second)
	require.NotNil(t, m, "the big call was never answered")
	assert.False(t, isToolError(m), "a call read before the end of input was answered with an error: %v", m["result"])
	assert.Len(t, s.fake.GitHubIssues("acme/app"), 1)
}
