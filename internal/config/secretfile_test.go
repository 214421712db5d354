package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestASecretFileIsReadAsTheOperatorMeantIt: NAME_FILE naming an empty (or
// blank) file is an error naming the variable, not a silent "no
// credential" that later tells the operator to set what is set (found in
// review); a BOM and surrounding whitespace are not part of the secret.
func TestASecretFileIsReadAsTheOperatorMeantIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content, want, err string
	}{
		{"empty", "", "", "GITHUB_TOKEN_FILE names is empty"},
		{"only a newline", "\r\n", "", "GITHUB_TOKEN_FILE names is empty"},
		{"a trailing newline", "ghp_abc\n", "ghp_abc", ""},
		{"CRLF", "ghp_abc\r\n", "ghp_abc", ""},
		{"a BOM", "\ufeffghp_abc\n", "ghp_abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "gh")
			require.NoError(t, os.WriteFile(f, []byte(tt.content), 0o600))
			env := map[string]string{"GITHUB_TOKEN_FILE": f}
			s, err := LoadSecrets(func(k string) string { return env[k] }, GitHubToken)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			got, ok := s.Get(GitHubToken)
			require.True(t, ok)
			assert.Equal(t, tt.want, got.Reveal())
		})
	}
}

// TestBadCredentialValuesStopStartUp (found in README review): "a bad value
// of any variable stops start-up with an error naming it". A webhook URL
// that is not a URL, and a signing secret list of separators only, started
// anyway; the errors name the variable and never quote a secret.
func TestBadCredentialValuesStopStartUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		load func(getenv func(string) string) error
		says string
	}{
		{"a webhook URL that is not a URL", map[string]string{SlackWebhookURL: "notaurl-T0/B0/secretpart"},
			func(g func(string) string) error { _, err := LoadSecrets(g, SlackWebhookURL); return err }, "SLACK_WEBHOOK_URL is not an http"},
		{"a webhook URL without a host", map[string]string{SlackWebhookURL: "https:///services/secretpart"},
			func(g func(string) string) error { _, err := LoadSecrets(g, SlackWebhookURL); return err }, "SLACK_WEBHOOK_URL is not an http"},
		{"signing secrets that are only commas", map[string]string{GitHubWebhookSecret: " , ,"},
			func(g func(string) string) error { _, err := LoadWebhook(g); return err }, "GITHUB_WEBHOOK_SECRET holds no secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.load(func(k string) string { return tt.env[k] })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.says)
			assert.NotContains(t, err.Error(), "secretpart")
		})
	}
	s, err := LoadSecrets(func(k string) string {
		return map[string]string{SlackWebhookURL: "https://hooks.slack.com/services/T0/B0/x"}[k]
	}, SlackWebhookURL)
	require.NoError(t, err)
	_, ok := s.Get(SlackWebhookURL)
	assert.True(t, ok, "a real webhook URL is taken")
}

// TestTheSecretsInUseAreRedactedEvenIfTheirFileChangedSinceTheyWereRead: a
// command reads its credentials, then builds its redactor, which reads every
// NAME_FILE again. A secret file rewritten in between (rotated while the
// command started) gave the redactor the new value only, and the value in
// use went unredacted (noted in an earlier read-through). Values without a
// known token shape, so that only the configured value can redact them.
func TestTheSecretsInUseAreRedactedEvenIfTheirFileChangedSinceTheyWereRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		load func(getenv func(string) string) ([]InUse, error)
		env  string
	}{
		{"serve's credentials", func(getenv func(string) string) ([]InUse, error) {
			s, err := LoadSecrets(getenv, CredentialNames...)
			return s.InUse(), err
		}, StripeSecretKey},
		{"the webhook signing secrets", func(getenv func(string) string) ([]InUse, error) {
			c, err := LoadWebhook(getenv)
			return c.InUse(), err
		}, GitHubWebhookSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "secret")
			require.NoError(t, os.WriteFile(f, []byte("first-value-of-the-rotated-secret\n"), 0o600))
			env := map[string]string{tt.env + "_FILE": f}
			getenv := func(k string) string { return env[k] }
			inUse, err := tt.load(getenv)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(f, []byte("second-value-of-the-rotated-secret\n"), 0o600))

			red, unread := Redactor(getenv, inUse...)
			require.Empty(t, unread)
			out := red.String("sent first-value-of-the-rotated-secret and second-value-of-the-rotated-secret")
			assert.NotContains(t, out, "first-value")
			assert.NotContains(t, out, "second-value")
		})
	}
}

// TestTheSlackWebhookURLInUseIsRedactedInEverySpellingAfterARotation:
// Redactor redacts a configured SLACK_WEBHOOK_URL in every spelling an
// error may quote it in (its path, its last path segment), because the URL
// is itself the secret. The value the command read and uses (inUse) got
// only its whole spelling: if SLACK_WEBHOOK_URL_FILE was rewritten between
// serve's LoadSecrets and its Redactor, an error quoting the path of the
// URL in use (a redirect, a relative Location, a proxy's message) leaked
// the webhook's secret (found in review).
func TestTheSlackWebhookURLInUseIsRedactedInEverySpellingAfterARotation(t *testing.T) {
	t.Parallel()
	const (
		first  = "https://hooks.slack.com/services/T0FIRST00/B0FIRST00/firstRotationTokenAbCdEf12"
		second = "https://hooks.slack.com/services/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f1"
	)
	tests := []struct {
		name, text, secret string
	}{
		{"the path of the URL in use", `redirected to "/services/T0FIRST00/B0FIRST00/firstRotationTokenAbCdEf12"`, "firstRotationTokenAbCdEf12"},
		{"the token segment of the URL in use", `invalid webhook token firstRotationTokenAbCdEf12`, "firstRotationTokenAbCdEf12"},
		// The control: the value in the file when the redactor was built.
		{"the path of the rotated-in URL", `redirected to "/services/T0SECOND0/B0SECOND0/secondRotationTokenAbCdEf1"`, "secondRotationTokenAbCdEf1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "slack-webhook-url")
			require.NoError(t, os.WriteFile(f, []byte(first+"\n"), 0o600))
			env := map[string]string{SlackWebhookURL + "_FILE": f}
			getenv := func(k string) string { return env[k] }
			s, err := LoadSecrets(getenv, CredentialNames...) // serve reads its credentials
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(f, []byte(second+"\n"), 0o600)) // rotated while serve starts

			red, unread := Redactor(getenv, s.InUse()...) // as openServe builds it
			require.Empty(t, unread)
			assert.NotContains(t, red.String(tt.text), tt.secret)
		})
	}
}
