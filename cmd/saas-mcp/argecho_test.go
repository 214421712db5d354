package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// A credential slipped onto the command line (an .mcp.json "args" entry of
// "${GITHUB_TOKEN}" next to "serve", or a shell that expanded a variable in
// the wrong place) is masked in the usage error on stderr, which MCP clients
// keep in their logs, as in every other error a command prints (found in
// review: it was echoed raw).
func TestAnArgumentHoldingACredentialIsMaskedInUsageErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	const tok = "ghp_R3alL00kingT0kenValue1234567890abcd"
	const hook = "https://hooks.slack.com/services/T0001/B0001/Qz7vKp2mWx9RtL4nYb8HcJ3d"
	t.Setenv("GITHUB_TOKEN", tok)
	t.Setenv("SLACK_WEBHOOK_URL", hook)
	for _, args := range [][]string{
		{"serve", tok},
		{"serve", hook},
		{tok},
		{"doctor", tok},
		{"version", tok},
		{"webhooks", "dead", tok},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if strings.Contains(out, tok) || strings.Contains(out, "Qz7vKp2mWx9RtL4nYb8HcJ3d") {
			t.Errorf("%q (exit %d) echoed a configured credential: %s", args[0], code, strings.TrimSpace(out))
		}
	}
}
