package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func webhookEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// These tests use t.Setenv (envconfig reads the process environment), so
// they cannot run in parallel.

func TestLoadWebhookDefaults(t *testing.T) {
	for _, k := range []string{"WEBHOOK_ADDR", "WEBHOOK_MAX_BODY", "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_WORKERS", "WEBHOOK_RETENTION", "DATA_DIR"} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
	c, err := LoadWebhook(webhookEnv(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:3000", c.Addr)
	assert.Equal(t, "data", c.DataDir)
	assert.Equal(t, 7*24*time.Hour, c.Retention, "a week: past Stripe's three days of retries")
	assert.Equal(t, int64(25<<20), c.MaxBodyFor("github"))
	assert.Equal(t, int64(1<<20), c.MaxBodyFor("stripe"))
	assert.Equal(t, int64(1<<20), c.MaxBodyFor("slack"))
	assert.Empty(t, c.GitHubSecrets)
}

func TestLoadWebhookSecretsRotateAndComeFromFiles(t *testing.T) {
	t.Setenv("WEBHOOK_MAX_BODY", "2MiB")
	file := filepath.Join(t.TempDir(), "stripe")
	require.NoError(t, os.WriteFile(file, []byte("whsec_new, whsec_old\n"), 0o600))
	c, err := LoadWebhook(webhookEnv(map[string]string{
		GitHubWebhookSecret:           "newer,older, ,",
		StripeWebhookSecret + "_FILE": file,
	}))
	require.NoError(t, err)
	require.Len(t, c.GitHubSecrets, 2)
	assert.Equal(t, "newer", c.GitHubSecrets[0].Reveal())
	assert.Equal(t, "older", c.GitHubSecrets[1].Reveal())
	require.Len(t, c.StripeSecrets, 2)
	assert.Equal(t, "whsec_old", c.StripeSecrets[1].Reveal())
	assert.Equal(t, int64(2<<20), c.MaxBodyFor("github"), "WEBHOOK_MAX_BODY applies to every provider")
	vals, unread := SecretValues(webhookEnv(map[string]string{GitHubWebhookSecret: "newer,older, ,", StripeWebhookSecret + "_FILE": file}))
	assert.Empty(t, unread)
	assert.Subset(t, vals, []string{"newer", "older", "whsec_new", "whsec_old"}, "every entry of a rotated list is redacted")
}

func TestLoadWebhookRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		vars map[string]string
	}{
		{"a secret both inline and in a file", map[string]string{}, map[string]string{SlackSigningSecret: "a", SlackSigningSecret + "_FILE": "/x"}},
		{"zero attempts", map[string]string{"WEBHOOK_MAX_ATTEMPTS": "0"}, nil},
		{"zero workers", map[string]string{"WEBHOOK_WORKERS": "0"}, nil},
		{"a retention shorter than an hour", map[string]string{"WEBHOOK_RETENTION": "10m"}, nil},
		{"a retention that is not a duration", map[string]string{"WEBHOOK_RETENTION": "a week"}, nil},
		{"a DATA_DIR starting with ~, which nothing expands", map[string]string{"DATA_DIR": "~/state"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := LoadWebhook(webhookEnv(tt.vars))
			assert.Error(t, err)
		})
	}
}

// Values only the receiver uses are refused by ValidateReceiver, which
// `saas-mcp webhooks` calls, and not by LoadWebhook: `saas-mcp worker` and
// the admin commands never listen, and refused to start over a
// WEBHOOK_ADDR of "3000" (found in review). Not parallel: envconfig reads
// the process environment.
func TestReceiverOnlyValuesAreCheckedForTheReceiverAlone(t *testing.T) {
	tests := []struct{ name, value string }{
		{"WEBHOOK_ADDR", "3000"},
		{"WEBHOOK_MAX_BODY", "lots"},
		{"WEBHOOK_DRAIN_DELAY", "-1s"},
		{"WEBHOOK_DRAIN_DELAY", "61m"}, // 15h for 15s would hold a stop for most of a day
		{"WEBHOOK_MAX_CONNS", "0"},
		{"WEBHOOK_MAX_CONNS", "100001"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			c, err := LoadWebhook(webhookEnv(nil))
			require.NoError(t, err, "the worker and the admin commands load it")
			err = c.ValidateReceiver()
			require.Error(t, err, "the receiver refuses it")
			assert.Contains(t, err.Error(), tt.name)
		})
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true}, {"25MiB", 25 << 20, true}, {"512KiB", 512 << 10, true}, {"1 GiB", 1 << 30, true},
		{"10mb", 10 << 20, true}, {"100B", 100, true}, {"0", 0, false}, {"-5", 0, false}, {"MiB", 0, false}, {"1.5MiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if tt.ok {
			require.NoError(t, err, tt.in)
			assert.Equal(t, tt.want, got, tt.in)
		} else {
			assert.Error(t, err, tt.in)
		}
	}
}

// WEBHOOK_MAX_BODY cannot exceed what the payload log can hold and read
// back (found in review: a limit up to 1 TiB was accepted, and a delivery
// over 1 GiB, answered 202, would have been read back as torn).
func TestWebhookMaxBodyIsCappedAtWhatThePayloadLogHolds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in string
		ok bool
	}{{"1GiB", true}, {"1024MiB", true}, {"1073741825", false}, {"2GiB", false}, {"1048576MiB", false}} {
		c := Webhook{Addr: "127.0.0.1:3000", MaxBody: tt.in, MaxConns: 1024}
		err := c.ValidateReceiver()
		if tt.ok {
			assert.NoError(t, err, tt.in)
		} else {
			assert.ErrorContains(t, err, "over the largest body", tt.in)
		}
	}
}
