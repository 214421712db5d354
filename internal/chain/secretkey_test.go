package chain

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A key comes back in the tool's result (not redacted: the agent must be
// able to send it again) and goes to the provider, so a new key that holds
// a credential or a secret is refused, with nothing sent (found in review,
// then refined over four regression reviews). The tests below run one
// sendMessage call through the audit and idempotency steps.

// keyRun is one call with idempotencyKey key, through an Idempotency step
// with red, on a store that may already hold rows (earlier).
type keyRun struct {
	t     *testing.T
	sink  *memSink
	store *memStore
	idem  *Idempotency
	tool  *Tool
	ran   int
}

func newKeyRun(t *testing.T, red *redact.Redactor) *keyRun {
	t.Helper()
	k := &keyRun{t: t, sink: &memSink{}, store: newMemStore()}
	k.idem = &Idempotency{Store: k.store, Owner: "me", Alive: func(string) bool { return true }, Now: time.Now,
		Audit: k.sink, Log: discard, Redactor: red}
	// A sendMessage that counts its sends and echoes the key, as the real
	// tool's result does.
	k.tool = &Tool{Name: "sendMessage", Provider: "slack", Action: "post_message",
		Run: func(_ context.Context, c *Call) (any, error) {
			k.ran++
			return map[string]any{"ts": "1.2", "idempotencyKey": c.Key}, nil
		}}
	return k
}

func (k *keyRun) args(key string) map[string]any {
	return map[string]any{"channel": "C1", "text": "x", idempotency.KeyField: key}
}

// earlier stores a committed call with key, claimed at, as one accepted
// before (an earlier release, say) leaves it.
func (k *keyRun) earlier(key string, at time.Time) {
	k.t.Helper()
	ctx := context.Background()
	c := NewCall(k.tool, k.args(key), "a", "sandbox", "old")
	want, err := k.idem.Policy.NewClaim(k.tool.Name, c.Key, c.argsHash, targetOf(c), "old-owner", at)
	require.NoError(k.t, err)
	_, _, err = k.store.Claim(ctx, want, at, k.idem.Alive)
	require.NoError(k.t, err)
	require.NoError(k.t, k.store.Commit(ctx, want.Key, "old-owner", json.RawMessage(`{"ts":"1.1"}`)))
}

func (k *keyRun) call(key string) (Result, error) {
	h := Wrap(Final, Audit(k.sink, time.Now, discard), k.idem.Middleware())
	return h(context.Background(), NewCall(k.tool, k.args(key), "a", "sandbox", "c"))
}

// refused checks that the call was refused as invalid input naming the
// field, not quoting the key, audited, with nothing sent.
func (k *keyRun) refused(key string, res Result, err error) {
	k.t.Helper()
	b, _ := json.Marshal(res.Value)
	if !assert.Error(k.t, err, "%q accepted; the result echoes it raw: %s", key, b) {
		return
	}
	assert.Equal(k.t, KindInvalid, KindOf(err))
	assert.Contains(k.t, err.Error(), "idempotencyKey")
	assert.NotContains(k.t, err.Error(), key)
	assert.Zero(k.t, k.ran, "sent to the provider with %q as its key", key)
	assert.Equal(k.t, []string{audit.StatusStarted, audit.StatusRejected}, k.sink.statuses())
}

func TestAKeyHoldingAProviderCredentialIsRefusedUnlessTheStoreHoldsIt(t *testing.T) {
	t.Parallel()
	const token = "ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789"
	tests := []struct {
		name    string
		key     string
		stored  bool // a call with the key was accepted before
		refused bool
	}{
		{"a GitHub token", token, false, true},
		{"a Stripe live key", "sk_live_51Hx9kQm2vN8pZr4tYw6AbCd", false, true},
		{"a token after a separator", "retry:" + token, false, true},
		// Joined to a word, a credential is still masked in the log, so it
		// must be refused too (found in review, twice: "_", digits, letters).
		{"a token after an underscore", "retry_" + token, false, true},
		{"a Stripe key after an underscore", "order_sk_live_51Hx9kQm2vN8pZr4tYw6AbCd", false, true},
		{"a Slack token after a digit", "2xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", false, true},
		{"a token after a letter", "retry" + token, false, true},
		{"a Slack token after a letter", "slackxoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", false, true},
		{"a Stripe key after a letter", "ordersk_live_51Hx9kQm2vN8pZr4tYw6AbCd", false, true},
		// A retry of a key accepted before is never told to use another
		// key, which would act twice.
		{"a token the store holds replays", token, true, false},
		// Keys that only look partly like a credential are ordinary.
		{"a test key's prefix mid-word", "task_test_42", false, false},
		{"a GitHub prefix mid-word", "weighs_1", false, false},
		{"a live key's prefix mid-word", "bookmark_live_9", false, false},
		{"a short prefix-shaped key", "sk_test_42", false, false},
		{"a word and a hash after a Stripe prefix", "task_test_9f86d081884c7d659a2feaa0c55ad015", false, false},
		{"a word and a timestamp after a Stripe prefix", "risk_live_20240601T120000Z0001", false, false},
		{"a word and a name after a Stripe prefix", "disk_test_snapshot0123456789", false, false},
		{"an ordinary key", "deploy-42", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newKeyRun(t, redact.New())
			if tt.refused {
				require.NotEqual(t, tt.key, redact.New().String(tt.key), "premise: the redactor masks it in the log")
			}
			if tt.stored {
				k.earlier(tt.key, time.Now())
			}
			res, err := k.call(tt.key)
			switch {
			case tt.refused:
				k.refused(tt.key, res, err)
			case tt.stored:
				require.NoError(t, err)
				assert.True(t, res.Replayed)
				assert.Zero(t, k.ran, "replayed, not sent again")
			default:
				require.NoError(t, err, "ordinary key %q refused as a credential", tt.key)
				assert.Equal(t, 1, k.ran)
			}
		})
	}
}

// A credential key the store holds is let through as a retry, but only
// while its row has not expired (Store.Get returns expired rows until
// Prune): an expired key is forgotten, Claim replaces the row and the call
// acts as a new one, which is not the retry the exemption is for (found in
// review).
func TestAnExpiredRowOfACredentialKeyDoesNotExemptANewCall(t *testing.T) {
	t.Parallel()
	const token = "ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789"
	k := newKeyRun(t, redact.New())
	k.earlier(token, time.Now().Add(-48*time.Hour)) // accepted two days ago, expired a day ago, not pruned
	res, err := k.call(token)
	k.refused(token, res, err)
}

// With serve's redactor (config.Redactor): a key holding a configured
// secret held in full is refused, ordinary keys are not, even those that
// mention a masked but possibly public part of a relay's webhook URL (its
// last path segment, its host) or a short signing secret (found in review:
// a version that refused every key the redactor would change refused them
// and told the agent it had used a secret).
func TestAKeyHoldingAConfiguredSecretIsRefusedAndOrdinaryKeysAreNot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		key     string
		refused bool
	}{
		{"the signing secret", map[string]string{config.SlackSigningSecret: "8f742231b10e8888abcd99yyyzzz85a5"},
			"x-8f742231b10e8888abcd99yyyzzz85a5", true},
		{"a Slack webhook's token", map[string]string{config.SlackWebhookURL: "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"},
			"XXXXXXXXXXXXXXXXXXXXXXXX", true},
		// Its last non-empty segment when the URL ends in "/" (found in
		// review: the empty last segment held nothing).
		{"the token of a Slack webhook ending in /", map[string]string{config.SlackWebhookURL: "https://hooks.slack.com/services/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/"},
			"retry-Zq8mW3vK1pR7tY5nX2cBa9Lk", true},
		// Every spelling the log masks (found in review: held raw only).
		{"an escaped spelling of a secret", map[string]string{config.GitHubWebhookSecret: `s3cr"et-0123456789abcdef`},
			`s3cr\"et-0123456789abcdef`, true},
		{"a relay's public last segment", map[string]string{config.SlackWebhookURL: "https://k7Qz9VbX2mP4wL8nR3tY.relay.example/api/v1/slack/incoming-webhook"},
			"incoming-webhook-smoke-1", false},
		{"a relay's public host", map[string]string{config.SlackWebhookURL: "http://host.docker.internal:8080/slack/T0/B0/k7Qz9VbX2mP4wL8nR3tY"},
			"probe-host.docker.internal-1", false},
		{"a short signing secret", map[string]string{config.GitHubWebhookSecret: "test"}, "smoke-test-7", false},
		{"every kind of secret set", map[string]string{
			config.SlackWebhookURL:     "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
			config.SlackSigningSecret:  "8f742231b10e8888abcd99yyyzzz85a5",
			config.GitHubWebhookSecret: "test",
		}, "smoke-test-7", false},
	}
	ordinary := []string{"550e8400-e29b-41d4-a716-446655440000", "order:1234", "task_test_42",
		"hooks.slack.com-alerts-1", "deploy-2024_0601_ghs"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			red, _ := config.Redactor(func(k string) string { return tt.env[k] })
			if tt.refused {
				require.True(t, strings.Contains(red.String(tt.key), redact.Mask), "premise: the log masks %q", tt.key)
				k := newKeyRun(t, red)
				res, err := k.call(tt.key)
				k.refused(tt.key, res, err)
				return
			}
			for _, key := range append([]string{tt.key}, ordinary...) {
				k := newKeyRun(t, red)
				_, err := k.call(key)
				assert.NoError(t, err, "ordinary key %q refused", key)
				assert.Equal(t, 1, k.ran)
			}
		})
	}
}
