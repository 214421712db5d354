package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStdoutCarriesOnlyJSONRPC speaks raw JSON-RPC to the binary, including a
// call that fails and a call that logs, and checks that every byte on stdout
// is a JSON-RPC message and that logs went to stderr as JSON.
func TestStdoutCarriesOnlyJSONRPC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AUDIT_LOG_PATH=" + filepath.Join(dir, "a.ndjson"),
		"DATA_DIR=" + filepath.Join(dir, "data"), "LOG_LEVEL=debug"}
	requests := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"createTicket","arguments":{"repo":"a/b","title":"t"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"writeAudit","arguments":{"provider":"p","action":"a","target":"t"}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope","arguments":{}}}`,
	}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdoutPipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	_, err = io.WriteString(stdin, strings.Join(requests, "\n")+"\n")
	require.NoError(t, err)

	// Read until every request is answered, then close stdin: a client that
	// hangs up first gets its in-flight calls cancelled, which is not what
	// this test is about.
	var out strings.Builder
	answered := 0
	rd := bufio.NewReader(stdoutPipe)
	for answered < 5 {
		line, err := rd.ReadString('\n')
		require.NoError(t, err, "stdout so far: %s; stderr: %s", out.String(), stderr.String())
		out.WriteString(line)
		if strings.Contains(line, `"id":`) {
			answered++
		}
	}
	require.NoError(t, stdin.Close())
	rest, err := io.ReadAll(rd)
	require.NoError(t, err)
	out.Write(rest)
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())

	ids := map[float64]bool{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var msg map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &msg), "stdout line is not JSON: %q", sc.Text())
		assert.Equal(t, "2.0", msg["jsonrpc"], "line: %s", sc.Text())
		if id, ok := msg["id"].(float64); ok {
			ids[id] = true
		}
	}
	assert.Equal(t, map[float64]bool{1: true, 2: true, 3: true, 4: true, 5: true}, ids, "every request answered")
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		assert.NoError(t, json.Unmarshal([]byte(line), &m), "stderr line is not JSON: %q", line)
	}
	// Once the first response was out, serve gave back the
	// start-up pages (package startpages), and the calls after it, which
	// ran on the pages faulted back in, were answered above.
	assert.Contains(t, stderr.String(), `"msg":"released start-up pages"`)
}

// TestHelpDescribesEveryCommandAndVariable checks --help output.
func TestHelpDescribesEveryCommandAndVariable(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "--help").Output()
	require.NoError(t, err)
	for _, cmd := range []string{"serve", "webhooks", "worker", "doctor"} {
		assert.Contains(t, string(out), cmd)
	}
	out, err = exec.Command(binary, "serve", "--help").Output()
	require.NoError(t, err)
	for _, v := range []string{"INTEGRATION_ENV", "AUDIT_LOG_PATH", "DATA_DIR", "IDEMPOTENCY_WINDOW", "GITHUB_API_URL",
		"SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "GITHUB_TOKEN", "STRIPE_SECRET_KEY", "HTTP_MAX_CALL_WAIT"} {
		assert.Contains(t, string(out), v)
	}
}

// TestStartupNeedsNoNetwork checks that serve answers initialize with every
// provider URL pointing at a closed port and every credential set: nothing is
// dialled at start-up. The 10 s bound only stops a hung test; it is not a
// timing assertion (make bench measures start-up).
func TestStartupNeedsNoNetwork(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + filepath.Join(dir, "d"), "AUDIT_LOG_PATH=" + filepath.Join(dir, "a"),
		"GITHUB_API_URL=http://127.0.0.1:1/", "SLACK_API_URL=http://127.0.0.1:1/", "STRIPE_API_URL=http://127.0.0.1:1",
		"GITHUB_TOKEN=ghp_x", "SLACK_BOT_TOKEN=xoxb-x", "STRIPE_SECRET_KEY=sk_test_x"}
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}` + "\n")
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = cmd.Output()
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.Contains(t, string(out), `"serverInfo"`)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no answer to initialize")
	}
}

// TestDoctorOnAFreshDataDirSaysSo checks that doctor does not fail before any
// call has created the state.
func TestDoctorOnAFreshDataDirSaysSo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(binary, "doctor")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + filepath.Join(dir, "data"), "AUDIT_LOG_PATH=" + filepath.Join(dir, "a")}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "does not exist yet")
	assert.Contains(t, string(out), "in doubt:  none")
}
