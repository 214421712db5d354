package mcpserver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/mcpserver"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A configured secret that has no provider prefix (SLACK_SIGNING_SECRET is
// 32 hex characters; GITHUB_WEBHOOK_SECRET is whatever the operator chose)
// used as an idempotencyKey is refused like a token: a version that checked
// token shapes only accepted it, echoed it raw in the tool result and wrote
// it into the GitHub issue's body marker, while every error and the audit
// log masked it (found in review).
func TestAKeyHoldingAConfiguredSecretIsRefused(t *testing.T) {
	t.Parallel()
	const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5" // SLACK_SIGNING_SECRET's shape
	red := redact.New(signingSecret).Held(signingSecret)     // as config.Redactor builds it
	require.NotEqual(t, signingSecret, red.String(signingSecret), "the server's redactor masks it")
	gh := &fakeGitHub{}
	srv, _ := serveStack(t, t.TempDir(), "sandbox", gh, func(o *mcpserver.Options) { o.Redactor = red })

	text, isErr := callOn(t, srv, "createTicket", `{"repo":"acme/app","title":"Deploy failed","idempotencyKey":"`+signingSecret+`"}`)
	assert.True(t, isErr, "accepted: %s", text)
	assert.NotContains(t, text, signingSecret, "the result echoes the configured secret raw")
	for _, is := range gh.opened() {
		assert.NotEqual(t, signingSecret, is.Key, "the secret was handed to the GitHub client, which writes it into the issue body's marker")
	}
}

// A short configured secret (a 4-byte webhook signing secret the user
// chose) is masked in text, but a key holding it is an ordinary key: a
// version that refused every key the redactor would change refused
// "order:1234" and "smoke-test-7", and told the agent it had guessed a
// secret (found in review). Only configured values of 16 bytes and more
// count.
func TestAKeyHoldingAShortConfiguredSecretIsAnOrdinaryKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ secret, key string }{{"1234", "order:1234"}, {"test", "smoke-test-7"}} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			red := redact.New(tc.secret)
			gh := &fakeGitHub{}
			srv, _ := serveStack(t, t.TempDir(), "sandbox", gh, func(o *mcpserver.Options) { o.Redactor = red })
			text, isErr := callOn(t, srv, "createTicket", `{"repo":"acme/app","title":"Deploy failed","idempotencyKey":"`+tc.key+`"}`)
			assert.False(t, isErr, "ordinary key %q refused: %s", tc.key, text)
			assert.Len(t, gh.opened(), 1)
		})
	}
}
