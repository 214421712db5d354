package chain

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A Slack webhook URL pasted with a trailing slash has an empty last path
// segment: heldValues held no token, so a key holding the webhook token was
// accepted and echoed raw in the result (found in review). The token is
// the last non-empty segment.
func TestAKeyHoldingTheTokenOfASlackURLEndingInASlashIsRefused(t *testing.T) {
	t.Parallel()
	const token = "Zq8mW3vK1pR7tY5nX2cBa9Lk"
	env := map[string]string{config.SlackWebhookURL: "https://hooks.slack.com/services/T0A1B2C3D/B0E1F2G3H/" + token + "/"}
	red, _ := config.Redactor(func(k string) string { return env[k] })
	key := "retry-" + token
	res, err, ran := reviewRun(t, red, key)
	b, _ := json.Marshal(res.Value)
	assert.Error(t, err, "key holding the webhook token accepted; result: %s; log text: %s", b, red.String(key))
	assert.Zero(t, ran)
}

// A key holding a secret in an escaped spelling is masked in the audit log;
// a version that held only raw values accepted it and echoed it raw (found
// in review). Every spelling is held.
func TestAKeyHoldingAnEscapedSpellingOfASecretIsRefused(t *testing.T) {
	t.Parallel()
	secret := `s3cr"et-0123456789abcdef`
	env := map[string]string{config.GitHubWebhookSecret: secret}
	red, _ := config.Redactor(func(k string) string { return env[k] })
	key := strings.ReplaceAll(secret, `"`, `\"`)
	if red.String(key) == key {
		t.Fatalf("premise: the redactor masks %q", key)
	}
	res, err, ran := reviewRun(t, red, key)
	b, _ := json.Marshal(res.Value)
	assert.Error(t, err, "log masks %q as %q, but the call was accepted; result: %s", key, red.String(key), b)
	assert.Zero(t, ran)
}

// Ordinary keys built from words ending in "sk"/"rk" followed by
// "_test_"/"_live_" and an id were refused as Stripe keys by a version that
// matched the prefix anywhere (found in review); a Stripe key's body mixes
// upper case, lower case and digits.
func TestKeysOfOrdinaryWordsBeforeAStripePrefixAreAccepted(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"task_test_9f86d081884c7d659a2feaa0c55ad015",
		"risk_live_20240601T120000Z0001",
		"disk_test_snapshot0123456789",
	} {
		t.Run(key[:9], func(t *testing.T) {
			t.Parallel()
			_, err, _ := reviewRun(t, redact.New(), key)
			assert.NoError(t, err, "ordinary key %q refused as a credential", key)
		})
	}
}
