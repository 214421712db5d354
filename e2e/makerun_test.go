package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMakeRunStdoutCarriesOnlyJSONRPC follows the README's "Two commands
// on a fresh machine": `make run` "builds bin/saas-mcp and starts the MCP
// server on stdio, as Claude Code would", and the Configuration table says
// "stdout carries only JSON-RPC". A new user who pokes `make run` by hand
// (printf '{...}' | make run | jq) gets make's recipe echo on stdout first:
// "CGO_ENABLED=0 go build ..." and "./bin/saas-mcp serve" are not JSON-RPC
// (found in review; make's own output now goes to stderr).
//
// BIN is overridden (same recipe) so the test builds into its own directory
// and leaves the repository's bin/ alone; DATA_DIR and AUDIT_LOG_PATH point
// at a temporary directory so the repository's data/ and logs/ stay untouched.
func TestMakeRunStdoutCarriesOnlyJSONRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary through make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	bin, err := filepath.Rel(root, filepath.Join(dir, "saas-mcp"))
	require.NoError(t, err)

	cmd := exec.Command("make", "run", "BIN="+bin)
	cmd.Dir = root
	// As a user runs it from a shell: not as a sub-make of `make test`,
	// whose MAKELEVEL would make this make print "Entering directory"
	// (found by CI, where the tests run under make).
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKELEVEL" && k != "MAKEFLAGS" && k != "MFLAGS" {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "DATA_DIR="+filepath.Join(dir, "data"), "AUDIT_LOG_PATH="+filepath.Join(dir, "audit.ndjson"))
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "stderr: %s", stderr.String())
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("make run did not finish")
	}

	sawPong := false
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["jsonrpc"] != "2.0" {
			t.Errorf("make run wrote a line that is not JSON-RPC on stdout: %q", sc.Text())
			continue
		}
		sawPong = sawPong || m["id"] == float64(1)
	}
	require.True(t, sawPong, "no answer to ping; stdout: %s", stdout.String())
}
