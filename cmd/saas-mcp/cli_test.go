package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// doctor checks the audit log as serve would open it: one serve cannot open
// (here a directory) fails doctor as it fails serve. Not parallel: run reads
// the process environment.
func TestDoctorFlagsAnAuditLogServeCannotOpen(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", dir) // a directory

	var out, errb bytes.Buffer
	serveCode := run(context.Background(), []string{"serve"}, strings.NewReader(""), &out, &errb)
	assert.NotEqual(t, 0, serveCode, "serve refuses: %s", errb.String())

	out.Reset()
	errb.Reset()
	code := run(context.Background(), []string{"doctor"}, strings.NewReader(""), &out, &errb)
	assert.NotEqual(t, 0, code, "doctor should fail like serve; it said:\n%s%s", out.String(), errb.String())
}

// An unknown flag or argument is refused with exit 2, not ignored: a typo
// such as `doctor --jsno` must not print the table as if nothing were wrong.
func TestUnknownFlagsAreRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	for _, args := range [][]string{{"doctor", "--jsno"}, {"doctor", "x", "--json"}, {"serve", "--bogus"}, {"worker", "extra"}, {"webhooks", "--bogus"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
		assert.Equal(t, 2, code, "%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
	}
}
