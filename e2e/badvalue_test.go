package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A bad value of any variable stops start-up with an error naming it, the
// paths and the listen address included (README, Configuration).
func TestEveryBadPathOrAddressIsNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cmd, variable, value string
	}{
		{"an empty audit log path", "serve", "AUDIT_LOG_PATH", ""},
		{"an audit log path that is a directory", "serve", "AUDIT_LOG_PATH", "DIR"},
		{"a webhook address without a port", "webhooks", "WEBHOOK_ADDR", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			value := strings.ReplaceAll(tt.value, "DIR", dir)
			env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": dir,
				"AUDIT_LOG_PATH": filepath.Join(dir, "audit.ndjson"), "DATA_DIR": filepath.Join(dir, "data"),
				"WEBHOOK_ADDR": "127.0.0.1:0", "GITHUB_WEBHOOK_SECRET": "badvalue-secret"}
			env[tt.variable] = value
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, tt.cmd)
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Stdin = strings.NewReader("")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "exits with an error")
			assert.Contains(t, stderr.String(), tt.variable, "the error names the variable")
		})
	}
}
