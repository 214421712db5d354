package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A credential that is a variable reference the MCP client did not expand
// (found in a new-user walkthrough: `${GITHUB_TOKEN:-}` passed as text went
// to api.github.com as the token) is refused by the rule, naming the
// variable; real credentials, and text that only contains a $, pass.
func TestAnUnexpandedPlaceholderIsNoCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		bad   bool
	}{
		{"${GITHUB_TOKEN}", true},
		{"${GITHUB_TOKEN:-}", true},
		{"${SLACK_BOT_TOKEN:-xoxb-default}", true},
		{"${STRIPE_SECRET_KEY-}", true},
		{"$GITHUB_TOKEN", true},
		{"ghp_0123456789abcdefghijABCDEFGHIJ012345", false},
		{"sk_test_51H8xYz$abc", false},
		{"pa$$word-${x}-long", false},
		{"${not closed", false},
	}
	for _, tt := range tests {
		err := CheckCredential(Sandbox, "GITHUB_TOKEN", NewSecret(tt.value))
		if tt.bad {
			if assert.Error(t, err, tt.value) {
				assert.Contains(t, err.Error(), "GITHUB_TOKEN")
				assert.Contains(t, err.Error(), "placeholder rule")
				assert.NotContains(t, err.Error(), tt.value, "the value is not quoted")
			}
		} else {
			assert.NoError(t, err, tt.value)
		}
	}
}
