package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// reviewRun runs a command in-process; a command that starts after all stops
// when ctx ends.
func reviewRun(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// README (Configuration): "Exit codes: ... 2 a usage error (no or unknown
// command or argument)", and every other command refuses a stray argument
// (TestUnknownFlagsAreRefused). `version` ignores any: `saas-mcp version
// --bogus` and `saas-mcp version extra` print the version and exit 0.
func TestVersionRefusesAStrayArgumentWithExitTwo(t *testing.T) {
	for _, args := range [][]string{{"version", "extra"}, {"version", "--bogus"}, {"--version", "x"}} {
		code, out, errb := reviewRun(t, 2*time.Second, args...)
		assert.Equal(t, 2, code, "%v: stdout %q stderr %q", args, out, errb)
		assert.Contains(t, errb, "unknown argument", "%v", args)
	}
}

// serve and doctor refuse a DATA_DIR of blanks ("DATA_DIR must name a
// directory"); the worker (and the receiver) take it and create a
// directory named "   " in the working directory, keeping there a state
// separate from serve's. Webhook.Validate checks only c.DataDir == "".
// Not parallel: the commands read the process environment and cwd.
func TestWorkerRefusesABlankDataDirAsServeDoes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("DATA_DIR", "   ")

	code, _, errb := reviewRun(t, 2*time.Second, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, errb, "DATA_DIR must name a directory")

	code, out, errb := reviewRun(t, 2*time.Second, "worker")
	_, statErr := os.Stat(filepath.Join(dir, "   "))
	assert.Equal(t, 1, code, "worker accepted DATA_DIR=%q: stdout %q stderr %q", "   ", out, errb)
	// The same words as serve's, with the value (found in review: "must
	// not be empty", of a value that is not).
	assert.Contains(t, errb, `DATA_DIR must name a directory, not "   "`)
	assert.True(t, os.IsNotExist(statErr), "the worker created a directory named %q", "   ")
}

// WEBHOOK_WORKERS passes validation at any value of 1 or more, but River
// refuses more than 10,000 workers when the worker starts: the command
// exits 1 with a JSON log line "river client: invalid number of workers for
// queue \"webhooks\": 20000", which does not name the variable (README: a
// bad value stops start-up with an error naming it and what it must be).
func TestTooManyWebhookWorkersIsRefusedNamingTheVariable(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("WEBHOOK_WORKERS", "20000")
	code, out, errb := reviewRun(t, 5*time.Second, "worker")
	assert.Equal(t, 1, code, "stdout %q", out)
	assert.Contains(t, errb, "WEBHOOK_WORKERS", "the error does not name the variable")
}

// README: "No secret reaches a tool result, an error, a log line ...:
// every command redacts every secret variable set in its environment".
// printErr's comment names the case ("a start-up error can quote a value
// given in the wrong variable"), but start-up errors go through only the
// token-shape redactor: a signing secret of no known shape, also pasted in
// the wrong line (LOG_LEVEL here), is printed whole by every command.
func TestAStartUpErrorNeverQuotesAConfiguredSecret(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	const secret = "Kq8vR2mXw9LpZt4Hn7"
	t.Setenv("SLACK_SIGNING_SECRET", secret)
	t.Setenv("LOG_LEVEL", secret)
	for _, cmd := range []string{"serve", "doctor", "worker", "webhooks"} {
		code, _, errb := reviewRun(t, 2*time.Second, cmd)
		assert.Equal(t, 1, code, cmd)
		assert.Contains(t, errb, "LOG_LEVEL", cmd)
		assert.NotContains(t, errb, secret, "%s printed SLACK_SIGNING_SECRET's value: %s", cmd, errb)
	}
}
