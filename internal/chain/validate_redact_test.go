package chain

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/schemas"
)

// TestAValidationErrorQuotingASecretRedactsIt: the validator's pattern
// message quotes the value with Go escapes (\' \\ \t ...), so a configured
// secret holding a quote, a backslash or a tab (a webhook signing secret is
// chosen by the user) must be redacted in that spelling too, or it reaches
// the agent and the audit log's error field while the same call's started
// record (target) masks it.
func TestAValidationErrorQuotingASecretRedactsIt(t *testing.T) {
	t.Parallel()
	in, err := schemas.Input("createTicket")
	require.NoError(t, err)
	v, err := NewValidator(map[string][]byte{"createTicket": in})
	require.NoError(t, err)
	for _, secret := range []string{`it's-our-webhook-secret-1`, `C:\webhook\secret-value-2`, "tab\tseparated-secret-3"} {
		v := *v
		v.Redactor = redact.New(secret)
		err := v.Check("createTicket", map[string]any{"repo": secret, "title": "t"})
		require.Error(t, err)
		msg := v.Redactor.String(err.Error()) // as mcpserver and the audit writer redact it
		assert.NotContains(t, msg, "secret-", "the secret %q leaks, escaped, in %q", secret, msg)
		assert.Contains(t, msg, redact.Mask, "the quoted value is masked, not dropped")
	}
}
