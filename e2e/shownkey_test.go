package e2e

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// keyInMessage is how an in-doubt error names the key to call again with.
var keyInMessage = regexp.MustCompile(`idempotencyKey "([^"]+)"`)

// TestRetryingWithTheKeySaasMcpShowedActsOnce: a call without an
// idempotencyKey runs under a key derived from its arguments; its result
// shows that key and its in-doubt error says "call again with the same
// idempotencyKey". An agent that does exactly that must get the first
// effect (replayed, or found by reconciliation), never a second issue or
// message, and every audit record of both calls names the key it was shown.
func TestRetryingWithTheKeySaasMcpShowedActsOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tool    string
		args    map[string]any
		fault   *fakesaas.Fault // makes the first call fail in doubt after the provider acted
		effects func(*fakesaas.Server) int
	}{
		{
			name: "the key a result showed replays the first message",
			tool: "sendMessage", args: map[string]any{"channel": "C0GENERAL", "text": "deploy done"},
			effects: func(f *fakesaas.Server) int { return len(f.SlackMessages("C0GENERAL")) },
		},
		{
			name: "the key an in-doubt error named finds the first issue",
			tool: "createTicket", args: map[string]any{"repo": "acme/app", "title": "Deploy failed"},
			fault:   &fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway},
			effects: func(f *fakesaas.Server) int { return len(f.GitHubIssues("acme/app")) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, withAllCredentials)
			if tt.fault != nil {
				h.fake.Inject(*tt.fault)
			}
			res := h.call(tt.tool, tt.args)
			var key string
			if tt.fault == nil {
				key, _ = structured(t, res)["idempotencyKey"].(string)
			} else {
				require.True(t, res.IsError, "the failure after the provider acted is in doubt")
				m := keyInMessage.FindStringSubmatch(text(res))
				require.NotNil(t, m, "the error names the key to call again with: %s", text(res))
				assert.Contains(t, text(res), "will check github before acting")
				key = m[1]
			}
			require.NotEmpty(t, key)
			require.Equal(t, 1, tt.effects(h.fake), "the first call acted")

			retry := map[string]any{"idempotencyKey": key}
			for k, v := range tt.args {
				retry[k] = v
			}
			again := structured(t, h.call(tt.tool, retry))
			assert.Equal(t, true, again["replayed"], "the key shown gives the first effect back")
			assert.Equal(t, key, again["idempotencyKey"])
			assert.Equal(t, 1, tt.effects(h.fake), "one effect per key")
			for _, r := range h.records() {
				if r.Tool == tt.tool {
					assert.Equal(t, key, r.IdempotencyKey, "the %s record names the key as the agent sees it", r.Status)
				}
			}
		})
	}
}

// TestAShownKeyBroughtToOtherArgumentsIsRefused: the key a result showed
// names that call, by its tool and exact arguments. Brought to a call with
// other arguments it must neither act as a fresh key nor replay the first
// result: the call is refused, the error says why, nothing is sent.
func TestAShownKeyBroughtToOtherArgumentsIsRefused(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	first := structured(t, h.call("createTicket", map[string]any{"repo": "acme/app", "title": "Deploy failed"}))
	key, _ := first["idempotencyKey"].(string)
	require.NotEmpty(t, key)

	res := h.call("createTicket", map[string]any{"repo": "acme/app", "title": "Deploy failed again", "idempotencyKey": key})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "is not this call's", "the error names the cause: %s", text(res))
	assert.Contains(t, text(res), "nothing was sent")
	assert.Len(t, h.fake.GitHubIssues("acme/app"), 1, "no second issue")
}

// TestInWebhookModeAKeyInDoubtIsRefusedUntilItExpiresAndTheErrorsSayWhy:
// with only SLACK_WEBHOOK_URL a message that may have been posted cannot be
// looked for (README, "Not guaranteed"). The errors must not promise a check
// nor tell the agent to retry with the key, which can only fail until the
// key expires: they say it is refused until then, and that a new key posts
// anyway. A new key does post, once.
func TestInWebhookModeAKeyInDoubtIsRefusedUntilItExpiresAndTheErrorsSayWhy(t *testing.T) {
	t.Parallel()
	h := start(t, func(f *fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_WEBHOOK_URL": f.SlackWebhookURL()}
	})
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/services/", Times: 1, Status: http.StatusInternalServerError})
	args := map[string]any{"channel": "C0GENERAL", "text": "deploy", "idempotencyKey": "hook-1"}
	for _, call := range []struct{ what, says string }{
		{"the first call", `every call with idempotencyKey "hook-1" is refused until the key expires at`},
		{"a retry", `idempotencyKey "hook-1" may have taken effect, and saas-mcp cannot check slack for it`},
	} {
		res := h.call("sendMessage", args)
		require.True(t, res.IsError, call.what)
		msg := text(res)
		assert.NotContains(t, msg, "will check slack", "%s: a webhook post cannot be checked", call.what)
		assert.NotContains(t, msg, "retry with the same key", "%s: retrying cannot help until the key expires", call.what)
		assert.NotContains(t, msg, "same idempotencyKey", call.what)
		for _, s := range []string{call.says, "posted through the incoming webhook", "cannot be found again", "is refused until the key expires at", "IDEMPOTENCY_KEY_TTL", "call again with a new idempotencyKey"} {
			assert.Contains(t, msg, s, "%s: %s", call.what, msg)
		}
	}
	assert.Empty(t, h.fake.SlackMessages(""), "the 500 posted nothing, and the retry sent nothing")

	// A bot token added since can read history, but a message the webhook
	// may have posted carries no key to find: looking would find nothing
	// and post a second time. The key stays refused, and says why.
	h.restart(map[string]string{"SLACK_BOT_TOKEN": fakesaas.SlackToken})
	res := h.call("sendMessage", args)
	require.True(t, res.IsError, "a retry with a bot token added")
	msg := text(res)
	for _, s := range []string{"posted through the incoming webhook", "even with a bot token", "is refused until the key expires at", "call again with a new idempotencyKey"} {
		assert.Contains(t, msg, s, msg)
	}
	assert.Empty(t, h.fake.SlackMessages(""), "nothing was posted by the retry through the Web API")

	res = h.call("sendMessage", map[string]any{"channel": "C0GENERAL", "text": "deploy", "idempotencyKey": "hook-2"})
	require.False(t, res.IsError, text(res))
	assert.Len(t, h.fake.SlackMessages(""), 1, "a new key posts, once")
}
