package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A credential the provider refuses (a typo, a revoked token) gets an
// error naming the variable to fix, and never any part of the value:
// GitHub's "Bad credentials" and Slack's invalid_auth name none, and
// Stripe's 401 quotes the key masked but for its last four characters.
func TestARefusedCredentialIsNamedByItsVariableAndNeverQuoted(t *testing.T) {
	t.Parallel()
	const (
		slackBad  = "xoxb-0000000000-wrongwrongwrongwrong"
		githubBad = "ghp_wrongwrongwrongwrongwrongwrongwrong1"
		stripeBad = "sk_test_wrongwrongwrongwrongwrong9876"
	)
	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_BOT_TOKEN": slackBad, "GITHUB_TOKEN": githubBad, "STRIPE_SECRET_KEY": stripeBad}
	})
	for _, tc := range []struct {
		tool     string
		args     map[string]any
		variable string
	}{
		{"sendMessage", map[string]any{"channel": "C0CRED", "text": "hi"}, "SLACK_BOT_TOKEN"},
		{"createTicket", map[string]any{"repo": "acme/app", "title": "t"}, "GITHUB_TOKEN"},
		{"recordPaymentEvent", map[string]any{"eventId": "evt_cred"}, "STRIPE_SECRET_KEY"},
	} {
		res := h.call(tc.tool, tc.args)
		require.True(t, res.IsError, "%s: %s", tc.tool, text(res))
		assert.Contains(t, text(res), tc.variable+" (or "+tc.variable+"_FILE) was refused by", tc.tool)
		for _, secret := range []string{slackBad, githubBad, stripeBad, "9876", "wrongwrong"} {
			assert.NotContains(t, text(res), secret, tc.tool)
		}
	}
	for _, r := range h.records() {
		for _, secret := range []string{"wrongwrong", "9876"} {
			assert.NotContains(t, r.Error, secret)
		}
	}
}
