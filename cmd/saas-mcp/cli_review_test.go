package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A SIGTERM while serve starts (migrating state.db) is a clean stop, exit
// 0, as for webhooks and worker (found in review: exit 1, "context
// canceled"). Not parallel: run reads the environment.
func TestServeStoppedWhileStartingIsACleanStop(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrived during start-up
	var out, errb bytes.Buffer
	code := run(ctx, []string{"serve"}, strings.NewReader(""), &out, &errb)
	assert.Equal(t, 0, code, "stderr %q", errb.String())
	assert.NotContains(t, errb.String(), "context canceled")
}

// doctor stops, with exit 1 naming the variable, on a credential serve
// refuses to start with (a malformed SLACK_WEBHOOK_URL, a NAME_FILE that
// cannot be read), before serve has ever run too (found in review: exit 0,
// and nothing said of the bad URL).
func TestDoctorFailsWhereServeRefusesACredential(t *testing.T) {
	for _, tt := range []struct{ name, k, v string }{
		{"webhook URL not a URL", "SLACK_WEBHOOK_URL", "not-a-url-at-all"},
		{"unreadable NAME_FILE", "GITHUB_TOKEN_FILE", "/nonexistent/review/token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
			t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
			t.Setenv(tt.k, tt.v)
			code, _, errb := reviewRun(t, 5*time.Second, "serve")
			require.Equal(t, 1, code, "serve refuses it: %s", errb)
			code, out, errb := reviewRun(t, 5*time.Second, "doctor")
			assert.Equal(t, 1, code, "doctor passed what serve refuses: stdout %q stderr %q", out, errb)
			assert.Contains(t, errb, strings.TrimSuffix(tt.k, "_FILE"))
		})
	}
}

// doctor reports a credential the sandbox/live rule refuses, which serve
// starts with and refuses at every call that needs it (found in review:
// nothing was said).
func TestDoctorReportsALiveKeyInSandbox(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("INTEGRATION_ENV", "sandbox")
	t.Setenv("STRIPE_SECRET_KEY", "sk_live_"+strings.Repeat("aB3", 10))
	code, out, errb := reviewRun(t, 5*time.Second, "doctor")
	assert.Contains(t, out+errb, "STRIPE_SECRET_KEY", "exit %d, nothing said of the live key: %q", code, out)
}
