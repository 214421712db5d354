package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// A call the client cancels while it waits for its turn under the
// provider's pace (Slack: one message a second to a channel) sent nothing,
// and its key is released, not left in doubt: the retry with the same key
// sends at once, without looking at the channel's history first (found in
// review: such a call was answered "may have taken effect" and left in
// doubt; with only an incoming-webhook URL, which cannot be looked at, its
// key was refused for 24 hours).
func TestACallCancelledWhileItWaitsForThePaceIsNotInDoubt(t *testing.T) {
	t.Parallel()
	s := startRaw(t, map[string]string{"SLACK_POST_INTERVAL": "1s"})
	first := map[string]any{"channel": "C0GENERAL", "text": "first", "idempotencyKey": "pace-1"}
	second := map[string]any{"channel": "C0GENERAL", "text": "second", "idempotencyKey": "pace-2"}
	s.send(callLine("a", "sendMessage", first, nil))
	require.False(t, isToolError(s.response("a", 5*time.Second)))
	s.send(callLine("b", "sendMessage", second, nil)) // waits about 1 s for the channel's pace
	time.Sleep(200 * time.Millisecond)
	s.send(cancelLine("b"))
	b := s.response("b", 5*time.Second)
	require.True(t, isToolError(b), "the cancelled call is refused: %v", b)
	assert.Contains(t, toolText(b), "the client cancelled the sendMessage call before anything was sent")
	assert.Len(t, s.fake.SlackMessages("C0GENERAL"), 1, "nothing sent for the cancelled call")

	s.send(callLine("c", "sendMessage", second, nil))
	c := s.response("c", 10*time.Second)
	require.False(t, isToolError(c), "the retry sends: %v", c)
	assert.Len(t, s.fake.SlackMessages("C0GENERAL"), 2)
	assert.Zero(t, s.fake.Count("", "/api/conversations.history"), "the retry did not look for an earlier effect")
	for _, r := range s.records() {
		if r.IdempotencyKey == "pace-2" && r.Status != audit.StatusStarted {
			assert.Nil(t, r.Details["inDoubt"], "record %s %s", r.Status, r.Error)
		}
	}
}

// toolText is the text of a tool result's first content item.
func toolText(m map[string]any) string {
	res, _ := m["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) == 0 {
		return ""
	}
	item, _ := content[0].(map[string]any)
	text, _ := item["text"].(string)
	return text
}
