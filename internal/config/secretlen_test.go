package config

import (
	"os"
	"path/filepath"
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

// A variable set both as NAME and as NAME_FILE cannot be read (which one
// wins would be a guess), but NAME's value is in the environment all the
// same: it is masked, and checked for length, like any secret (found in
// review: it was skipped by a command that does not read the variable).
func TestASecretSetBothWaysIsStillMaskedAndChecked(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(file, []byte("from-the-file-1234\n"), 0o600))
	env := func(v string) func(string) string {
		return func(k string) string {
			switch k {
			case GitHubWebhookSecret:
				return v
			case GitHubWebhookSecret + "_FILE":
				return file
			}
			return ""
		}
	}
	red, unread := Redactor(env("inline-secret-5678"))
	require.Len(t, unread, 1, "reading the variable is still an error")
	assert.NotContains(t, red.String("sig inline-secret-5678"), "inline-secret-5678")
	short := ShortSecrets(env("Q7z"))
	require.Len(t, short, 1)
	assert.Contains(t, short[0].Error(), GitHubWebhookSecret)
}
