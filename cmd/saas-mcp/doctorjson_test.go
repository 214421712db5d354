package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// doctor --json with a credential problem: stdout holds only JSON lines
// (here none: no state yet), the problem goes to stderr, exit 1.
func TestDoctorJSONKeepsStdoutJSON(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("SLACK_WEBHOOK_URL", "not-a-url-at-all")
	t.Setenv("INTEGRATION_ENV", "sandbox")
	t.Setenv("STRIPE_SECRET_KEY", "sk_live_"+strings.Repeat("aB3", 10))
	code, out, errb := reviewRun(t, 5*time.Second, "doctor", "--json")
	assert.Equal(t, 1, code, "stderr %q", errb)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			assert.True(t, json.Valid([]byte(l)), "non-JSON on stdout: %q", l)
		}
	}
}
