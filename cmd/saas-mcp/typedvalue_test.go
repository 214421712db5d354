package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// A long signing secret (openssl rand -hex 64: 128 characters) pasted into a
// typed variable by mistake is not quoted back: a cut piece of it would no
// longer match whole for the redaction (found in review: the command's error
// quoted the value cut to 100 bytes, before any redaction).
func TestALongValueInATypedVariableIsNotQuotedBack(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	secret := strings.Repeat("9f2c4e7a1b3d5f60", 8) // 128 hex characters
	t.Setenv("GITHUB_WEBHOOK_SECRET", secret)
	t.Setenv("HTTP_TIMEOUT", secret) // pasted in the wrong line of .env
	for _, cmd := range [][]string{{"serve"}, {"doctor"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), cmd, strings.NewReader(""), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		t.Logf("%s: exit %d: %s", cmd[0], code, out)
		if strings.Contains(out, secret[:40]) {
			t.Errorf("%s printed a 40+ byte piece of GITHUB_WEBHOOK_SECRET", cmd[0])
		}
	}
}
