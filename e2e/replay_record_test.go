package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README: writeAudit's result is "the record written"; the same call within
// the window acts once and "the others get its result (replayed: true)";
// "integers past 2^53 are not rounded". The replay must show the record the
// log holds, not a rounded copy.
func TestAReplayedWriteAuditIsTheRecordWritten(t *testing.T) {
	h := start(t, nil)
	args := map[string]any{"provider": "p", "action": "a", "target": "x",
		"details": map[string]any{"n": json.Number("9007199254740993")}}
	first := h.call("writeAudit", args)
	if first.IsError || !strings.Contains(text(first), "9007199254740993") {
		t.Fatalf("first call: %s", text(first))
	}
	second := h.call("writeAudit", args)
	if second.IsError || !strings.Contains(text(second), `"replayed":true`) {
		t.Fatalf("second call is not a replay: %s", text(second))
	}
	if !strings.Contains(text(second), "9007199254740993") {
		t.Fatalf("replayed result differs from the record written: first %s\nreplay %s", text(first), text(second))
	}
}

// README, "The chain every call passes": a sendMessage sent through an
// incoming webhook (which posts to its own channel and answers no ts) is
// named in its terminal record by details.via, not details.channel and
// details.ts; "a replayed record" names the effect "from the stored result"
// the same way. The replayed record of a webhook-posted message must not
// claim the message is in the channel the call named, with an empty ts
// (found in review).
func TestAReplayedWebhookMessageIsNamedByHowItWasSentNotByAChannel(t *testing.T) {
	t.Parallel()
	h := start(t, func(f *fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_WEBHOOK_URL": f.SlackWebhookURL()}
	})
	args := map[string]any{"channel": "C0WEBHOOK", "text": "via webhook", "idempotencyKey": "wh-replay-1"}
	first := structured(t, h.call("sendMessage", args))
	require.Equal(t, false, first["replayed"])
	again := structured(t, h.call("sendMessage", args))
	require.Equal(t, true, again["replayed"])
	require.Equal(t, 1, h.fake.Count("POST", fakesaas.SlackWebhookPath))

	var terminal []audit.Record
	for _, r := range h.records() {
		if r.Tool == "sendMessage" && r.Status != audit.StatusStarted {
			terminal = append(terminal, r)
		}
	}
	require.Len(t, terminal, 2)
	assert.Equal(t, "incoming-webhook", terminal[0].Details["via"], "succeeded record")
	replayed := terminal[1]
	require.Equal(t, audit.StatusReplayed, replayed.Status)
	assert.Equal(t, "incoming-webhook", replayed.Details["via"], "replayed record details: %v", replayed.Details)
	assert.NotContains(t, replayed.Details, "channel", "replayed record details: %v", replayed.Details)
	assert.NotContains(t, replayed.Details, "ts", "replayed record details: %v", replayed.Details)
}
