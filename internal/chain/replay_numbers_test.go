package chain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider"
)

// TestAReplayKeepsTheStoredNumbersExact (found in review): a replay must
// return the stored result's numbers as stored, only with replayed set; it
// decoded them into float64, so an integer past 2^53 that the first result
// (and the audit log) carried exactly came back rounded.
func TestAReplayKeepsTheStoredNumbersExact(t *testing.T) {
	t.Parallel()
	got, err := withReplayed(json.RawMessage(`{"details":{"n":9007199254740993,"f":1e1},"replayed":false}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"details":{"n":9007199254740993,"f":1e1},"replayed":true}`, string(got))
	assert.Contains(t, string(got), "9007199254740993")
}

// TestAMissingCredentialErrorNamesEveryVariable (found in review): each
// credential can come from NAME or NAME_FILE; the error named NAME_FILE
// only for the first of a tool's credentials, leaving out
// SLACK_WEBHOOK_URL_FILE.
func TestAMissingCredentialErrorNamesEveryVariable(t *testing.T) {
	t.Parallel()
	tool := &Tool{Name: "sendMessage", Credentials: []string{"SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL"}}
	h := Wrap(Final, Secrets(config.Secrets{}))
	_, err := h(context.Background(), NewCall(tool, map[string]any{}, "a", "sandbox", "id"))
	require.Error(t, err)
	assert.Equal(t, KindCredential, KindOf(err))
	assert.Contains(t, err.Error(), "sendMessage needs SLACK_BOT_TOKEN, SLACK_BOT_TOKEN_FILE, SLACK_WEBHOOK_URL or SLACK_WEBHOOK_URL_FILE to be set")
}

// TestAnInDoubtCallOfAToolWithNothingToLookForSaysARepeatIsHarmless (found
// in review): recordPaymentEvent only reads Stripe and records an event
// once, so it has no Reconcile. A cancelled or timed-out call of it was
// told "saas-mcp will check stripe before acting", a check that never
// comes; the error now says a repeat is harmless.
func TestAnInDoubtCallOfAToolWithNothingToLookForSaysARepeatIsHarmless(t *testing.T) {
	t.Parallel()
	idem := &Idempotency{Store: newMemStore(), Owner: "me", Alive: func(string) bool { return true }, Now: time.Now,
		Audit: &memSink{}, Log: discard}
	tool := &Tool{Name: "recordPaymentEvent", Provider: "stripe", Action: "record_payment_event", ReadOnly: true,
		Run: func(context.Context, *Call) (any, error) {
			return nil, &provider.Error{Provider: "stripe", Op: "retrieve event", InDoubt: true}
		}}
	_, err := idem.Middleware()(Final)(context.Background(), NewCall(tool, map[string]any{"eventId": "evt_1", "idempotencyKey": "k"}, "a", "sandbox", "c"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "repeating this call is harmless")
	assert.NotContains(t, err.Error(), "will check")
}

// A replay reads as the first answer did (found in a new-user
// walkthrough): its members came back sorted by name, the tool's own
// order lost, as the result went through a map.
func TestAReplayKeepsTheStoredOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, stored, want string }{
		{"a tool's result", `{"provider":"github","number":7,"url":"https://x/7","replayed":false,"idempotencyKey":"k"}`,
			`{"provider":"github","number":7,"url":"https://x/7","replayed":true,"idempotencyKey":"k"}`},
		{"no replayed member", `{"z":1,"a":"b"}`, `{"z":1,"a":"b","replayed":true}`},
		{"a member named twice keeps its first place and last value", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2,"replayed":true}`},
		{"spaces and nesting as stored", `{ "d" : {"y":[1, 2],"x":null}, "replayed" : false }`, `{"d":{"y":[1, 2],"x":null},"replayed":true}`},
		{"an escaped key", `{"a\"b":1}`, `{"a\"b":1,"replayed":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := withReplayed(json.RawMessage(tc.stored))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			assert.True(t, json.Valid(got))
		})
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":}`, `{"a":1`, ``} {
		_, err := withReplayed(json.RawMessage(bad))
		assert.Error(t, err, "%q", bad)
	}
}
