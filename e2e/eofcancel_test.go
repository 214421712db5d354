package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A notifications/cancelled that is the client's last line, written
// without a newline, stops its call still queued for the workers.
// Found in review (when the end of input was held back from mcp-go's
// StdioServer by a reader, HoldEOF, which added the newline above
// Cancellations.Watch; the transport now reads such a line and the watch
// notes it at the end of input): Watch never saw the line end and never
// noted the id; mcp-go handled the
// cancellation itself, found no running call, dropped it, and the queued
// call later ran and posted the message the user stopped.
func TestAnUnterminatedLastCancellationStopsItsQueuedCall(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 2 * time.Second})
	for i := range 5 {
		s.send(callLine(fmt.Sprint("slow-", i), "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("slow ", i)}, nil))
	}
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") == 5 }, 10*time.Second, 10*time.Millisecond)
	// The queued call, then its cancellation as the last line, unterminated.
	_, err := io.WriteString(s.stdin, callLine("stop-me", "sendMessage", map[string]any{"channel": "C0GENERAL", "text": "DO NOT SEND"}, nil)+
		"\n"+cancelLine("stop-me"))
	require.NoError(t, err)
	require.NoError(t, s.stdin.Close())
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after the end of input")
	}
	_ = s.cmd.Wait()
	for _, msg := range s.fake.SlackMessages("") {
		assert.NotEqual(t, "DO NOT SEND", msg.Text, "a call cancelled by the client (last line, no newline) was sent to Slack")
	}
	assert.Zero(t, s.fake.Count("POST", "/api/"), "nothing reached Slack")
}

// A call read before the end of input whose line is big (here padded with
// JSON whitespace, about 24 MB) is answered, not cancelled. Found in
// review: mcp-go parses the message twice (HandleMessage, then
// CallToolRequest) before the tool handler runs and counts itself, which
// took more than eofQuiet (50 ms); HoldEOF passed the end on meanwhile,
// mcp-go cancelled the call's context and it was answered "cancelled" and
// never sent. The transport now waits at the end of input for every
// request it has dispatched.
func TestABigLastCallIsAnsweredNotCancelled(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	sendBigCallAndCloseInput(t, s)
}

// sendBigCallAndCloseInput writes a createTicket call padded to about
// 24 MB (JSON whitespace after its "{") and closes stdin, then checks that
// serve exits having answered it with its result and made its issue.
func sendBigCallAndCloseInput(t *testing.T, s *rawServer) {
	t.Helper()
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
	assert.False(t, isToolError(m), "a call read before the end of input was answered with an error: %v", m["result"])
	assert.Len(t, s.fake.GitHubIssues("acme/app"), 1)
}
