package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// `saas-mcp webhooks --help` says the receiver reads, of serve's variables,
// only "AUDIT_LOG_PATH, AUDIT_SYNC, INTEGRATION_ENV, STORE_SYNC, LOG_LEVEL".
// It validates every serve variable, though, with the bounds added today
// (HTTP_TIMEOUT at most 1h, HTTP_MAX_ATTEMPTS 100, IDEMPOTENCY_* 8760h...):
// an environment shared with serve that worked yesterday now keeps the
// webhook receiver from starting, on a variable it never uses. Not
// parallel: run reads the process environment.
func TestWebhooksStartsWhateverServeOnlyVariablesHold(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("WEBHOOK_ADDR", "127.0.0.1:0")
	t.Setenv("GITHUB_WEBHOOK_SECRET", "s3cret-for-test")
	t.Setenv("HTTP_TIMEOUT", "2h") // serve's provider timeout: the receiver calls no provider
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"webhooks", "--no-worker"}, strings.NewReader(""), &out, &errb)
	assert.NotContains(t, errb.String(), "HTTP_TIMEOUT", "exit %d", code)
}
