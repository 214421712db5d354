package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeRefusesABadSettingNamingTheVariable starts the binary with one
// bad setting: it must exit at once with an error naming the variable and
// nothing on stdout, rather than start and fail (or ignore it) later. A
// provider URL without a scheme used to start and leave every call's key in
// doubt ("unsupported protocol scheme ... may have taken effect"); a token
// set as a NAME_FILE path used to be printed whole.
func TestServeRefusesABadSettingNamingTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, variable, value string
		wantNot               string // must not appear on stderr
	}{
		{name: "a GitHub Enterprise URL without its scheme", variable: "GITHUB_API_URL", value: "ghe.example.com/api/v3"},
		{name: "an unknown log level", variable: "LOG_LEVEL", value: "verbose"},
		{name: "a negative attempt timeout", variable: "HTTP_TIMEOUT", value: "-5s"},
		{name: "a token given as its file's path", variable: "GITHUB_TOKEN_FILE",
			value: "ghp_R3alL00kingT0kenValue1234567890abcd", wantNot: "ghp_R3alL00kingT0kenValue1234567890abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := exec.Command(binary, "serve")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
				"AUDIT_LOG_PATH=" + filepath.Join(dir, "audit.ndjson"), "DATA_DIR=" + filepath.Join(dir, "data"),
				tt.variable + "=" + tt.value}
			cmd.Stdin = strings.NewReader("")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "serve exits with an error")
			assert.Contains(t, stderr.String(), tt.variable, "the error names the variable")
			if tt.wantNot != "" {
				assert.NotContains(t, stderr.String(), tt.wantNot)
			}
			assert.Empty(t, stdout.String(), "nothing on the protocol stream")
		})
	}
}
