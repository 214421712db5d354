package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// statusesOf returns the audit statuses of tool's calls, in log order, and
// the error of the last record.
func statusesOf(records []audit.Record, tool string) (statuses []string, lastErr string) {
	for _, r := range records {
		if r.Tool == tool {
			statuses = append(statuses, r.Status)
			lastErr = r.Error
		}
	}
	return statuses, lastErr
}

// TestACallCancelledWhileQueuedForAWorkerIsNeverSent: mcp-go runs tools/call
// on 5 workers and can cancel a call only once a worker has started it; a
// notifications/cancelled for a call still in the queue used to be dropped,
// and the call, once started, posted the message the user had stopped. The
// call is now refused when it starts: nothing is sent, the agent is told
// why, and the audit log shows it started and was rejected. Request ids
// are strings or numbers.
func TestACallCancelledWhileQueuedForAWorkerIsNeverSent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   any
	}{
		{"with a string request id", "stop-me"},
		{"with a number request id", 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startRaw(t, nil)
			// Five slow GitHub calls occupy the five workers.
			s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 3 * time.Second})
			for i := range 5 {
				s.send(callLine(fmt.Sprint("slow-", i), "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("slow ", i)}, nil))
			}
			require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") == 5 }, 10*time.Second, 10*time.Millisecond,
				"the five slow calls reach the provider")

			// The agent sends a message, then the user stops it.
			s.send(callLine(tc.id, "sendMessage", map[string]any{"channel": "C0GENERAL", "text": "DO NOT SEND"}, nil),
				cancelLine(tc.id))

			m := s.response(tc.id, 20*time.Second)
			require.True(t, isToolError(m), "%v", m)
			b, _ := json.Marshal(m["result"])
			assert.Contains(t, string(b), "the client cancelled the sendMessage call before anything was sent")
			for _, msg := range s.fake.SlackMessages("") {
				assert.NotEqual(t, "DO NOT SEND", msg.Text, "a call cancelled by the client was sent to Slack")
			}
			assert.Zero(t, s.fake.Count("POST", "/api/"), "nothing reached Slack")
			statuses, lastErr := statusesOf(s.records(), "sendMessage")
			assert.Equal(t, []string{audit.StatusStarted, audit.StatusRejected}, statuses)
			assert.Contains(t, lastErr, "the client cancelled")
		})
	}
}

// TestACancelSentRightAfterItsCallStopsIt: the client sends a call and at
// once its cancellation (a user hitting stop immediately). The cancellation
// used to race mcp-go's worker storing the call's cancel func and mostly
// lose, so the message was posted. Whether it now lands before the call
// starts or while the (slow) provider is answering, nothing is posted and
// no call is audited as succeeded.
func TestACancelSentRightAfterItsCallStopsIt(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Delay: time.Second})
	const n = 10
	for i := range n {
		id := fmt.Sprint("c", i)
		s.send(callLine(id, "sendMessage", map[string]any{"channel": "C0GENERAL", "text": "cancelled " + id}, nil),
			cancelLine(id))
		m := s.response(id, 20*time.Second)
		assert.True(t, isToolError(m), "call %s: %v", id, m)
	}
	posted := 0
	for _, m := range s.fake.SlackMessages("") {
		if strings.HasPrefix(m.Text, "cancelled ") {
			posted++
		}
	}
	assert.Zero(t, posted, "%d of %d calls cancelled right after they were sent still posted their message", posted, n)
	statuses, _ := statusesOf(s.records(), "sendMessage")
	assert.NotContains(t, statuses, audit.StatusSucceeded)
}
