package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAStartUpErrorNeverQuotesAConfiguredSecret with the secret given as
// SLACK_SIGNING_SECRET_FILE (README: each also as NAME_FILE). printErr now
// masks only values set in the environment itself (config.EnvRedactor), and
// the LOG_LEVEL error comes before any command built a redactor, so the
// file's secret pasted into LOG_LEVEL is printed whole. Before 41dc56c
// config.Redactor read the file and masked it.
// Not parallel: the commands read the process environment.
func TestAStartUpErrorNeverQuotesASecretConfiguredInANameFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	const secret = "Kq8vR2mXw9LpZt4Hn7"
	file := filepath.Join(dir, "signing")
	require.NoError(t, os.WriteFile(file, []byte(secret+"\n"), 0o600))
	t.Setenv("SLACK_SIGNING_SECRET_FILE", file)
	t.Setenv("LOG_LEVEL", secret)
	for _, cmd := range []string{"serve", "doctor", "worker", "webhooks"} {
		code, _, errb := reviewRun(t, 2*time.Second, cmd)
		assert.Equal(t, 1, code, cmd)
		assert.Contains(t, errb, "LOG_LEVEL", cmd)
		assert.NotContains(t, errb, secret, "%s printed SLACK_SIGNING_SECRET_FILE's secret: %s", cmd, errb)
	}
}

// A SLACK_WEBHOOK_URL set with a trailing CR (a .env written on Windows):
// every command reads it trimmed (config.ReadSecret), and config.Redactor
// masked its token and path. config.EnvRedactor hands the raw value to
// spellings, url.Parse refuses the control character, and only the whole
// URL is masked: an error quoting the webhook's token or path on its own
// prints it.
// Not parallel: printErr reads the process environment.
func TestPrintErrMasksTheWebhookTokenOfAURLSetWithATrailingCR(t *testing.T) {
	const token = "XyZ0aB1cD2eF3gH4iJ5kL6mN"
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0000000/B0000000/"+token+"\r")
	var out bytes.Buffer
	printErr(&out, "serve", errors.New("slack webhook answered 404 for /services/T0000000/B0000000/"+token))
	assert.NotContains(t, out.String(), token, "printed: %s", out.String())
}
