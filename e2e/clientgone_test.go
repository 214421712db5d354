package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A client that dies with calls in flight closes both of serve's pipes.
// The calls already sent to the provider finish and are audited, their
// answers fail to reach anyone, and serve exits 0: a write to the closed
// stdout must not kill it with SIGPIPE part-way, leaving the calls still
// running unrecorded, in doubt (found in review: Go's runtime ends a
// program on a broken-pipe write to stdout unless SIGPIPE is handled).
func TestAClientThatDiesLeavesItsCallsFinishedAndAudited(t *testing.T) {
	t.Parallel()
	fake := fakesaas.New()
	t.Cleanup(fake.Close)
	fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 400 * time.Millisecond})
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.ndjson")
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AUDIT_LOG_PATH=" + auditLog, "DATA_DIR=" + filepath.Join(dir, "data"),
		"GITHUB_API_URL=" + fake.GitHubAPIURL(), "GITHUB_TOKEN=" + fakesaas.GitHubToken, "GITHUB_WRITE_INTERVAL=0",
	}
	stdinR, stdinW, err := os.Pipe()
	require.NoError(t, err)
	stdoutR, stdoutW, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdin, cmd.Stdout = stdinR, stdoutW
	require.NoError(t, cmd.Start())
	_ = stdinR.Close()
	_ = stdoutW.Close()
	go func() { _, _ = io.Copy(io.Discard, stdoutR) }() // until the client "dies"

	_, err = fmt.Fprintln(stdinW, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"dies","version":"1"}}}`)
	require.NoError(t, err)
	for i := range 3 {
		_, err = fmt.Fprintln(stdinW, callLine(fmt.Sprint("c", i), "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("gone ", i)}, nil))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return fake.Count("POST", "/repos/") == 3 }, 10*time.Second, 5*time.Millisecond)
	// The client dies: both ends close.
	require.NoError(t, stdoutR.Close())
	require.NoError(t, stdinW.Close())

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		assert.NoError(t, err, "serve ended by a signal or with an error: %v", cmd.ProcessState)
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not exit after its client died")
	}
	f, err := os.Open(auditLog)
	require.NoError(t, err)
	defer f.Close()
	var recs []audit.Record
	require.NoError(t, audit.Read(f, func(r audit.Record) error { recs = append(recs, r); return nil }))
	terms := terminalByCall(recs, "createTicket")
	require.Len(t, terms, 3, "every call audited: %v", terms)
	for id, st := range terms {
		assert.Equal(t, []string{audit.StatusSucceeded}, st, "call %s", id)
	}
	assert.Equal(t, 3, len(fake.GitHubIssues("acme/app")), "each call made its issue once")
}
