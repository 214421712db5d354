package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A set credential or signing secret shorter than redact.MinSecret is
// refused, naming its variable and never its value: the redactor leaves
// values that short alone, so it would reach logs and audit records
// (found in review).
func TestSecretsTooShortToRedactAreRefused(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name    string
		load    func() error
		wantErr string
	}{
		{"a 3-byte credential", func() error {
			_, err := LoadSecrets(env(map[string]string{GitHubToken: "Q7z"}), GitHubToken)
			return err
		}, GitHubToken},
		{"a 4-byte credential", func() error {
			_, err := LoadSecrets(env(map[string]string{GitHubToken: "Q7zz"}), GitHubToken)
			return err
		}, ""},
		{"a short signing secret among rotated ones", func() error {
			_, err := LoadWebhook(env(map[string]string{GitHubWebhookSecret: "long-enough-secret,ab"}))
			return err
		}, GitHubWebhookSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.load()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			assert.NotContains(t, err.Error(), "Q7z")
			assert.NotContains(t, err.Error(), "ab,")
		})
	}
}

// A value envconfig cannot read is refused in the user's terms: the
// variable, the value and what it must be, not Go's field and type names
// (found in review).
func TestAnUnreadableValueIsRefusedInTheUsersTerms(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"a bool", "READ_ONLY", "yes", `READ_ONLY is "yes", which is not true or false`},
		{"a duration", "HTTP_TIMEOUT", "abc", `HTTP_TIMEOUT is "abc", which is not a duration such as 30s, 5m or 24h`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.key, tc.value)
			_, err := LoadServe()
			require.EqualError(t, err, tc.want)
		})
	}
	t.Run("an integer of the webhook configuration", func(t *testing.T) {
		t.Setenv("WEBHOOK_WORKERS", "x")
		_, err := LoadWebhook(func(string) string { return "" })
		require.EqualError(t, err, `WEBHOOK_WORKERS is "x", which is not a whole number`)
	})
}
