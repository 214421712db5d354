package e2e

// Cancellation, progress, EOF and SIGTERM over raw stdio (written in a review, eleventh session).

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// terminalByCall maps each callId with a started record to its terminal
// statuses.
func terminalByCall(recs []audit.Record, tool string) map[string][]string {
	out := map[string][]string{}
	for _, r := range recs {
		if r.Tool != tool || r.CallID == "" {
			continue
		}
		if _, ok := out[r.CallID]; !ok {
			out[r.CallID] = nil
		}
		switch r.Status {
		case audit.StatusSucceeded, audit.StatusFailed, audit.StatusReplayed, audit.StatusRejected:
			out[r.CallID] = append(out[r.CallID], r.Status)
		}
	}
	return out
}

func progressFor(lines []map[string]any, token any) []map[string]any {
	want, _ := json.Marshal(token)
	var out []map[string]any
	for _, l := range lines {
		if l["method"] != "notifications/progress" {
			continue
		}
		p, _ := l["params"].(map[string]any)
		got, _ := json.Marshal(p["progressToken"])
		if string(got) == string(want) {
			out = append(out, p)
		}
	}
	return out
}

func indexOfResponse(lines []map[string]any, id any) int {
	want, _ := json.Marshal(id)
	for i, l := range lines {
		if l["method"] != nil {
			continue
		}
		got, _ := json.Marshal(l["id"])
		if string(got) == string(want) {
			return i
		}
	}
	return -1
}

// A call waiting on Retry-After is cancelled: it must stop (no second
// attempt), answer with an error or not at all, and leave a terminal record.
func TestCancelDuringRetryAfterWait(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Status: 429,
		Header: map[string][]string{"Retry-After": {"4"}}})
	s.send(callLine("rl", "createTicket", map[string]any{"repo": "acme/app", "title": "rate limited"}, map[string]any{"progressToken": "p-rl"}))
	require.Eventually(t, func() bool { return len(progressFor(s.snapshot(), "p-rl")) > 0 }, 10*time.Second, 10*time.Millisecond,
		"a progress notification while waiting on Retry-After")
	sent := time.Now()
	s.send(cancelLine("rl"))
	time.Sleep(5 * time.Second)
	lines := s.snapshot()
	if i := indexOfResponse(lines, "rl"); i >= 0 {
		assert.True(t, isToolError(lines[i]) || lines[i]["error"] != nil, "a cancelled call answered as a success: %v", lines[i])
		for _, p := range lines[i:] {
			assert.NotEqual(t, "notifications/progress", p["method"], "progress after the response")
		}
	}
	assert.Equal(t, 1, s.fake.Count("POST", "/repos/"), "the cancelled call was sent again after its wait")
	assert.Empty(t, s.fake.GitHubIssues("acme/app"))
	calls := terminalByCall(s.records(), "createTicket")
	require.Len(t, calls, 1)
	for id, st := range calls {
		assert.Len(t, st, 1, "call %s terminal records %v", id, st)
		assert.NotContains(t, st, audit.StatusSucceeded)
	}
	_ = sent
}

// A call cancelled while the provider holds its request.
func TestCancelDuringProviderCall(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Times: 1, Mode: fakesaas.CommitThenHang, Delay: 3 * time.Second})
	s.send(callLine(7, "sendMessage", map[string]any{"channel": "C0GENERAL", "text": "mid"}, map[string]any{"progressToken": 0}))
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/api/chat.postMessage") == 1 }, 10*time.Second, 10*time.Millisecond)
	s.send(cancelLine(7))
	time.Sleep(4 * time.Second)
	lines := s.snapshot()
	if i := indexOfResponse(lines, 7); i >= 0 {
		b, _ := json.Marshal(lines[i])
		t.Logf("response: %s", b)
	}
	calls := terminalByCall(s.records(), "sendMessage")
	require.Len(t, calls, 1)
	for id, st := range calls {
		assert.Len(t, st, 1, "call %s terminal records %v", id, st)
	}
	assert.Empty(t, s.badLines())
}

// Progress with numeric tokens (0 and 17) and none without a token.
func TestProgressTokens(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	for i, tok := range []any{0, 17, "s-tok"} {
		s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Status: 429,
			Header: map[string][]string{"Retry-After": {"1"}}})
		id := fmt.Sprint("pt", i)
		s.send(callLine(id, "createTicket", map[string]any{"repo": "acme/app", "title": id}, map[string]any{"progressToken": tok}))
		m := s.response(id, 20*time.Second)
		require.False(t, isToolError(m), "%v", m)
		ps := progressFor(s.snapshot(), tok)
		assert.NotEmpty(t, ps, "progress for token %v", tok)
		idx := indexOfResponse(s.snapshot(), id)
		for _, l := range s.snapshot()[idx:] {
			if l["method"] == "notifications/progress" {
				t.Errorf("progress after response: %v", l)
			}
		}
	}
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Status: 429,
		Header: map[string][]string{"Retry-After": {"1"}}})
	before := 0
	for _, l := range s.snapshot() {
		if l["method"] == "notifications/progress" {
			before++
		}
	}
	s.send(callLine("none", "createTicket", map[string]any{"repo": "acme/app", "title": "none"}, nil))
	s.response("none", 20*time.Second)
	after := 0
	for _, l := range s.snapshot() {
		if l["method"] == "notifications/progress" {
			after++
		}
	}
	assert.Equal(t, before, after, "progress without a token")
}

// EOF on stdin with calls in flight: every started call has one terminal
// record, and the process exits.
func TestEOFWithCallsInFlight(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: time.Second})
	for i := range 8 {
		s.send(callLine(fmt.Sprint("e", i), "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("eof ", i)}, nil))
	}
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") >= 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, s.stdin.Close())
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after EOF")
	}
	err := s.cmd.Wait()
	assert.NoError(t, err, "stderr: %s", s.stderr.String())
	for id, st := range terminalByCall(s.records(), "createTicket") {
		assert.Len(t, st, 1, "call %s: terminal records %v", id, st)
	}
	// Every call read before the end finishes and answers (Stdio.Listen).
	for i := range 8 {
		m := s.response(fmt.Sprint("e", i), time.Second)
		assert.False(t, isToolError(m), "call e%d: %v", i, m["result"])
	}
	assert.Len(t, s.fake.GitHubIssues("acme/app"), 8)
	assert.Empty(t, s.badLines())
}

// SIGTERM with a call in flight.
func TestSIGTERMWithCallInFlight(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 2 * time.Second})
	s.send(callLine("t1", "createTicket", map[string]any{"repo": "acme/app", "title": "term"}, nil))
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") >= 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	err := s.cmd.Wait()
	assert.NoError(t, err, "stderr: %s", s.stderr.String())
	for id, st := range terminalByCall(s.records(), "createTicket") {
		assert.Len(t, st, 1, "call %s: terminal records %v", id, st)
	}
	assert.Empty(t, s.badLines())
	t.Logf("stderr: %s", s.stderr.String())
}

var _ = strings.Repeat
