package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// (Found in review of 6475b2f.) "every command refuses a secret too short to mask in its
// environment, whether it uses it or not". ShortSecrets skips a variable
// ReadSecret cannot read, leaving it to Redactor's unread, but serve
// discards unread (`red, _ := config.Redactor(...)`): a 3-byte signing
// secret next to a set NAME_FILE (both set) is neither refused nor masked,
// and serve starts.
//
// Not parallel: serve reads the process environment.
func TestServeRefusesAShortSigningSecretAlsoSetAsAFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	file := filepath.Join(dir, "gh-secret")
	require.NoError(t, os.WriteFile(file, []byte("a-long-file-secret-1234\n"), 0o600))
	t.Setenv("GITHUB_WEBHOOK_SECRET", "Q7z")
	t.Setenv("GITHUB_WEBHOOK_SECRET_FILE", file)

	var stderr bytes.Buffer
	app, err := openServe(context.Background(), &stderr)
	if err == nil {
		app.close()
	}
	require.Error(t, err, "serve started with a 3-byte GITHUB_WEBHOOK_SECRET it can neither mask nor check (GITHUB_WEBHOOK_SECRET_FILE also set)")
}

// The same for the webhook commands and serve's credentials.
//
// Not parallel: the command reads the process environment.
func TestWebhookCommandsRefuseAShortCredentialAlsoSetAsAFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	file := filepath.Join(dir, "gh-token")
	require.NoError(t, os.WriteFile(file, []byte("a-long-file-token-1234\n"), 0o600))
	t.Setenv("GITHUB_TOKEN", "ab")
	t.Setenv("GITHUB_TOKEN_FILE", file)

	var stderr bytes.Buffer
	app, err := openWebhookApp(context.Background(), &stderr, false, false)
	if err == nil {
		app.close()
	}
	require.Error(t, err, "webhooks dead/replay opened with a 2-byte GITHUB_TOKEN it can neither mask nor check (GITHUB_TOKEN_FILE also set)")
}
