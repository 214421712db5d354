package chain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

func reviewRun(t *testing.T, red *redact.Redactor, key string) (Result, error, int) {
	t.Helper()
	sink := &memSink{}
	idem := &Idempotency{Store: newMemStore(), Owner: "me", Alive: func(string) bool { return true }, Now: time.Now,
		Audit: sink, Log: discard, Redactor: red}
	ran := 0
	h := Wrap(Final, Audit(sink, time.Now, discard), idem.Middleware())
	res, err := h(context.Background(), NewCall(countingEchoTool(&ran),
		map[string]any{"channel": "C1", "text": "x", idempotency.KeyField: key}, "a", "sandbox", "c"))
	return res, err, ran
}

// serve's redactor masks a non-Slack webhook URL's parts (its last path
// segment "incoming-webhook", its host), which may be public; a version
// that refused every key holding a masked part refused ordinary keys that
// merely mention them, telling the agent it used a secret (found in
// review). Only secrets in full are held (config.heldValues).
func TestAnOrdinaryKeyMentioningAPublicPartOfTheWebhookURLIsAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, key string }{
		{"https://k7Qz9VbX2mP4wL8nR3tY.relay.example/api/v1/slack/incoming-webhook", "incoming-webhook-smoke-1"},
		{"http://host.docker.internal:8080/slack/T0/B0/k7Qz9VbX2mP4wL8nR3tY", "probe-host.docker.internal-1"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{config.SlackWebhookURL: tc.url}
			red, _ := config.Redactor(func(k string) string { return env[k] })
			_, err, ran := reviewRun(t, red, tc.key)
			assert.NoError(t, err, "ordinary key %q refused", tc.key)
			assert.Equal(t, 1, ran)
		})
	}
}

// A credential joined to a word of letters is masked by the redactor (the
// audit log shows [REDACTED]); a version whose HoldsToken wanted a word
// start let the call go and echoed the credential raw (found in review).
func TestACredentialRightAfterALetterIsRefused(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"retryghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789",
		"slackxoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
		"ordersk_live_51Hx9kQm2vN8pZr4tYw6AbCd",
	} {
		t.Run(key[:8], func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, key, redact.New().String(key), "the redactor masks it")
			res, err, ran := reviewRun(t, redact.New(), key)
			b, _ := json.Marshal(res.Value)
			assert.Error(t, err, "accepted; result echoes the credential raw: %s", b)
			assert.Zero(t, ran, "sent to the provider with the credential as its key")
		})
	}
}

// Ordinary keys stay ordinary with serve's redactor.
func TestOrdinaryKeysPassWithServesRedactor(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		config.SlackWebhookURL:     "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
		config.SlackSigningSecret:  "8f742231b10e8888abcd99yyyzzz85a5",
		config.GitHubWebhookSecret: "test",
	}
	red, _ := config.Redactor(func(k string) string { return env[k] })
	for _, key := range []string{"550e8400-e29b-41d4-a716-446655440000", "order:1234", "task_test_42", "smoke-test-7",
		"hooks.slack.com-alerts-1", "deploy-2024_0601_ghs"} {
		_, err, _ := reviewRun(t, red, key)
		assert.NoError(t, err, key)
	}
	// and a key holding the signing secret, or the webhook token, is refused
	for _, key := range []string{"x-8f742231b10e8888abcd99yyyzzz85a5", "XXXXXXXXXXXXXXXXXXXXXXXX"} {
		_, err, _ := reviewRun(t, red, key)
		assert.Error(t, err, key)
	}
}
