package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// (Found in review of 8aa65b3.) the README now says "`saas-mcp doctor` reads and
// checks the same variables as serve", and serve refuses a credential
// shorter than 4 characters, naming it. doctor, run precisely when serve
// refuses to start (it names an unreadable NAME_FILE), says nothing of it
// and exits 0: its redactor, like every other, leaves the value unmasked.
//
// Not parallel: doctor reads the process environment.
func TestDoctorNamesACredentialServeRefusesAsTooShort(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("GITHUB_TOKEN", "Q7z")

	var out, errb bytes.Buffer
	code := runDoctor(context.Background(), nil, &out, &errb)
	require.Contains(t, errb.String(), "GITHUB_TOKEN",
		"doctor (exit %d) does not name the credential serve refuses; stdout: %s", code, out.String())
}

// The webhook commands refuse a short credential in their environment too:
// they redact serve's credentials as well, and could not mask this one
// (found in review: only their own signing secrets were checked).
//
// Not parallel: the commands read the process environment.
func TestWebhookCommandsRefuseAShortCredentialInTheirEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("GITHUB_TOKEN", "ab")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a worker that starts runs until then
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"worker"}, bytes.NewReader(nil), &out, &errb)
	require.Equal(t, 1, code, "stdout: %s", out.String())
	require.Contains(t, errb.String(), "GITHUB_TOKEN is shorter than 4 characters")
	require.NotContains(t, errb.String(), `"ab"`)
}
