package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// (Found in review of 8aa65b3.) README "a credential or signing secret shorter than 4
// characters is refused too, as one so short could not be kept out of
// logs", and "every command redacts every secret variable set in its
// environment" (a .env loaded whole sets the signing secrets for serve
// too, and serve's redactor includes them). serve checks the length of its
// credentials only (LoadSecrets); a 3-byte signing secret in its
// environment starts it, and the redactor skips it: a writeAudit target
// quoting it is written to the audit log as is. (The receiver has the
// mirror gap: LoadWebhook checks the signing secrets, not a short
// GITHUB_TOKEN it also redacts.)
func TestAShortSigningSecretInServesEnvironmentIsRefusedOrMasked(t *testing.T) {
	t.Parallel()
	const secret = "Q7z" // 3 bytes

	dir := t.TempDir()
	probe := exec.Command(binary, "serve")
	probe.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DATA_DIR=" + filepath.Join(dir, "d"),
		"AUDIT_LOG_PATH=" + filepath.Join(dir, "a.ndjson"), "GITHUB_WEBHOOK_SECRET=" + secret}
	probe.Stdin = strings.NewReader("")
	var perr bytes.Buffer
	probe.Stderr = &perr
	if err := probe.Run(); err != nil {
		require.Contains(t, perr.String(), "GITHUB_WEBHOOK_SECRET", "start-up refused without naming the variable")
		return
	}

	s := startRaw(t, map[string]string{"GITHUB_WEBHOOK_SECRET": secret})
	s.send(callLine(1, "writeAudit", map[string]any{"provider": "deploy", "action": "release", "target": "app " + secret}, nil))
	res := s.response(1, 20*time.Second)
	require.False(t, isToolError(res), "writeAudit failed: %v", res)

	raw, err := os.ReadFile(s.auditLog)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret, "serve started with a 3-byte GITHUB_WEBHOOK_SECRET and wrote it to the audit log unmasked")
}
