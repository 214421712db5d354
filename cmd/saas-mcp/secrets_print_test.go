package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A token put in NAME_FILE by mistake (GITHUB_TOKEN_FILE=ghp_..., an easy
// slip when moving a secret from .mcp.json "env" to a file) must not be
// printed on stderr, which Claude Code keeps in its MCP logs: the error
// names the variable only, and every command's start-up error passes the
// token-shape redactor. Not parallel: run reads the process environment.
func TestATokenGivenAsItsFilePathIsNotPrinted(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	for _, c := range []struct{ cmd, name, secret string }{
		{"serve", "GITHUB_TOKEN_FILE", "ghp_R3alL00kingT0kenValue1234567890abcd"},
		{"serve", "SLACK_BOT_TOKEN_FILE", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"},
		{"webhooks", "STRIPE_WEBHOOK_SECRET_FILE", "whsec_AbCdEfGhIjKlMnOpQrStUv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.name, c.secret)
			var stdout, stderr bytes.Buffer
			args := []string{c.cmd}
			if c.cmd == "webhooks" {
				args = append(args, "dead")
			}
			code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
			require.NotEqual(t, 0, code, "the file does not exist")
			assert.Contains(t, stderr.String(), c.name, "the error names the variable")
			assert.NotContains(t, stderr.String()+stdout.String(), c.secret, "the token is not printed")
		})
	}
}
