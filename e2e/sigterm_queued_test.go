package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// SIGTERM with 5 calls running and 3 queued: each queued call is answered
// (refused as cancelled, nothing sent) and audited, where mcp-go's
// StdioServer dropped them unanswered (a reviewer's test, kept).
func TestSIGTERMAnswersAndAuditsTheCallsStillQueued(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 3 * time.Second})
	var ids []string
	for i := range 8 {
		id := fmt.Sprint("q", i)
		ids = append(ids, id)
		s.send(callLine(id, "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("term ", i)}, nil))
	}
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") >= 5 }, 10*time.Second, 10*time.Millisecond)
	s.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	s.response("p", 5*time.Second) // the three others are read and queued
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	assert.NoError(t, s.cmd.Wait(), "stderr: %s", s.stderr.String())
	assert.Equal(t, 5, s.fake.Count("POST", "/repos/"), "queued calls sent nothing")
	answered := map[string]bool{}
	for _, m := range s.snapshot() {
		if id, ok := m["id"].(string); ok && m["method"] == nil {
			answered[id] = true
		}
	}
	for _, id := range ids {
		assert.True(t, answered[id], "call %s answered", id)
	}
	// The queued ones say why they were refused: not the client's doing
	// (found in review: "the client cancelled ...").
	stopping := 0
	for _, id := range ids {
		if text := toolText(s.response(id, time.Second)); strings.Contains(text, "saas-mcp is stopping (SIGTERM or SIGINT), so the createTicket call was refused before anything was sent") {
			stopping++
		}
	}
	assert.Equal(t, 3, stopping, "the three queued calls are refused as the server stops")
	terms := terminalByCall(s.records(), "createTicket")
	assert.Len(t, terms, 8, "each call audited: %v", terms)
	for id, st := range terms {
		assert.Len(t, st, 1, "call %s: terminal records %v", id, st)
	}
	assert.Empty(t, s.badLines())
}

// SIGTERM with the queue full (5 running, 1000 queued): every queued call
// is refused, audited and answered before serve exits, and that takes well
// under the 2 s an MCP client (TypeScript SDK) waits before it kills the
// server (a reviewer's test, kept; about 80 ms when it was written).
func TestSIGTERMWithAFullQueueExitsWithinTwoSeconds(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 5 * time.Second})
	var lines []string
	for i := range 1005 {
		lines = append(lines, callLine(fmt.Sprint("f", i), "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("full ", i)}, nil))
	}
	s.send(lines...)
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") >= 5 }, 10*time.Second, 10*time.Millisecond)
	s.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	s.response("p", 10*time.Second)
	start := time.Now()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	took := time.Since(start)
	_ = s.cmd.Wait()
	t.Logf("exit %s after SIGTERM; %d lines written", took, len(s.snapshot()))
	assert.Less(t, took, 2*time.Second, "an MCP client kills the server 2 s after SIGTERM (TypeScript SDK)")
}
