package config

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every bound Validate enforces is listed in --help and in .env.example, as
// README's Configuration table lists it. (README: "`saas-mcp serve --help`
// and `saas-mcp webhooks --help` print every variable with its default.
// `.env.example` lists them".)
func TestEveryBoundIsListedInHelpAndEnvExample(t *testing.T) {
	t.Parallel()
	var help bytes.Buffer
	require.NoError(t, Usage(&help, &Serve{}))
	require.NoError(t, Usage(&help, &Webhook{}))
	env, err := os.ReadFile("../../.env.example")
	require.NoError(t, err)
	line := func(text, name string) string {
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, name) {
				return l
			}
		}
		return ""
	}
	for _, tc := range []struct{ name, bound string }{
		{"IDEMPOTENCY_WINDOW", "8760h"},
		{"IDEMPOTENCY_KEY_TTL", "8760h"},
		{"HTTP_TIMEOUT", "1h"},
		{"HTTP_MAX_ATTEMPTS", "100"},
		{"HTTP_MAX_CALL_WAIT", "24h"},
		{"WEBHOOK_RETENTION", "at least 1h"},
		{"WEBHOOK_DRAIN_DELAY", "at most 1h"},
		{"WEBHOOK_MAX_CONNS", "1 to 100000"},
	} {
		assert.Contains(t, line(help.String(), tc.name), tc.bound, "--help line of %s", tc.name)
		assert.Contains(t, line(string(env), tc.name), tc.bound, ".env.example line of %s", tc.name)
	}
	// The bounds hold as listed.
	c := Webhook{Addr: "127.0.0.1:3000", MaxAttempts: 1, Workers: 1, DataDir: "d", Retention: 59 * 60 * 1e9}
	assert.ErrorContains(t, c.Validate(), "WEBHOOK_RETENTION must be at least 1h")
}
