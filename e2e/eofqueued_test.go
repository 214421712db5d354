package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A client that writes its calls, closes stdin and reads stdout only a
// moment later (a slow reader, `... | saas-mcp serve | (sleep 1; cat)`)
// gets every call answered. Found in review: mcp-go's 5 workers blocked
// writing their responses to the full stdout pipe, outside the tool
// handler, so no call counted as running for 50 ms while calls read before
// the end of input still waited in mcp-go's queue; the end was passed on,
// mcp-go cancelled its context, and each queued call was answered
// "cancelled" or never at all. The transport now waits at the end of input
// for every call it dispatched, its answer's write included.
func TestCallsQueuedBehindABlockedStdoutAreAnsweredBeforeServeEnds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fake := fakesaas.New()
	t.Cleanup(fake.Close)
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"AUDIT_LOG_PATH=" + filepath.Join(dir, "audit.ndjson"), "DATA_DIR=" + filepath.Join(dir, "data"),
		"SLACK_API_URL=" + fake.SlackAPIURL(), "GITHUB_API_URL=" + fake.GitHubAPIURL(), "STRIPE_API_URL=" + fake.StripeAPIURL(),
		"HTTP_TIMEOUT=10s",
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	lines := []string{
		`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"review-client","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	}
	// About 6 KB each: enough to fill the stdout pipe several times over.
	for i := range 40 {
		lines = append(lines, fmt.Sprintf(`{"jsonrpc":"2.0","id":"list%d","method":"tools/list"}`, i))
	}
	var ids []string
	for i := range 30 {
		id := fmt.Sprint("c", i)
		ids = append(ids, id)
		lines = append(lines, callLine(id, "writeAudit",
			map[string]any{"provider": "github", "action": "note", "target": fmt.Sprint("acme/app#", i)}, nil))
	}
	_, err = io.WriteString(stdin, strings.Join(lines, "\n")+"\n")
	require.NoError(t, err)
	require.NoError(t, stdin.Close())

	time.Sleep(time.Second) // the client reads its answers a moment later

	got := map[string]map[string]any{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rd := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := rd.ReadString('\n')
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				if id, ok := m["id"].(string); ok {
					got[id] = m
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after the end of input")
	}
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
	var missing, cancelled []string
	for _, id := range ids {
		m, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case isToolError(m):
			cancelled = append(cancelled, id)
		}
	}
	assert.Empty(t, missing, "calls read before the end of input never answered")
	assert.Empty(t, cancelled, "calls read before the end of input answered with an error (cancelled)")
}

// `printf ... | saas-mcp serve` whose last line has no newline gets that
// call answered. Found in review: mcp-go drops a line that ends at EOF
// (readNextLine returns it with io.EOF and processInputStream returns nil),
// so it was neither run nor answered nor audited, and nothing was logged;
// the end of input now comes with a newline first.
func TestALastCallWithoutANewlineIsAnswered(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	_, err := io.WriteString(s.stdin, callLine("last", "writeAudit",
		map[string]any{"provider": "github", "action": "note", "target": "acme/app#last"}, nil))
	require.NoError(t, err)
	require.NoError(t, s.stdin.Close())
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit after the end of input")
	}
	require.NoError(t, s.cmd.Wait(), "stderr: %s", s.stderr.String())
	var answered bool
	for _, m := range s.snapshot() {
		if m["id"] == "last" {
			answered = true
			assert.False(t, isToolError(m), "%v", m["result"])
		}
	}
	assert.True(t, answered, "the last call (no trailing newline) was never answered; stderr: %s", s.stderr.String())
}
