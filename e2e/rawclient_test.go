package e2e

// A raw JSON-RPC client for `saas-mcp serve`, spoken to over pipes so that
// message timing and odd input are under the test's control (the mcp-go
// client would send only well-formed calls, and in its own time).

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// rawServer is one saas-mcp serve spoken to with raw JSON-RPC lines.
type rawServer struct {
	t        *testing.T
	fake     *fakesaas.Server
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *lockedBuffer
	auditLog string

	mu    sync.Mutex
	lines []map[string]any // every stdout line, in order
	bad   []string         // stdout lines that are not JSON-RPC
	got   chan struct{}
	done  chan struct{}
}

func startRaw(t *testing.T, extra map[string]string) *rawServer {
	t.Helper()
	dir := t.TempDir()
	s := &rawServer{t: t, fake: fakesaas.New(), stderr: &lockedBuffer{}, auditLog: filepath.Join(dir, "audit.ndjson"),
		got: make(chan struct{}, 1024), done: make(chan struct{})}
	t.Cleanup(s.fake.Close)
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": dir,
		"AUDIT_LOG_PATH": s.auditLog, "DATA_DIR": filepath.Join(dir, "data"),
		"SLACK_API_URL": s.fake.SlackAPIURL(), "GITHUB_API_URL": s.fake.GitHubAPIURL(), "STRIPE_API_URL": s.fake.StripeAPIURL(),
		"GITHUB_WRITE_INTERVAL": "0", "SLACK_POST_INTERVAL": "0", "HTTP_TIMEOUT": "10s",
		"SLACK_BOT_TOKEN": fakesaas.SlackToken, "GITHUB_TOKEN": fakesaas.GitHubToken, "STRIPE_SECRET_KEY": fakesaas.StripeKey,
	}
	for k, v := range extra {
		env[k] = v
	}
	s.cmd = exec.Command(binary, "serve")
	for k, v := range env {
		if v != "" {
			s.cmd.Env = append(s.cmd.Env, k+"="+v)
		}
	}
	s.cmd.Stderr = s.stderr
	var err error
	s.stdin, err = s.cmd.StdinPipe()
	require.NoError(t, err)
	out, err := s.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	go func() {
		defer close(s.done)
		rd := bufio.NewReaderSize(out, 1<<20)
		for {
			line, err := rd.ReadString('\n')
			if line != "" {
				var m map[string]any
				s.mu.Lock()
				if json.Unmarshal([]byte(line), &m) != nil || m["jsonrpc"] != "2.0" {
					s.bad = append(s.bad, line)
				} else {
					s.lines = append(s.lines, m)
				}
				s.mu.Unlock()
				select {
				case s.got <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		_ = s.cmd.Wait()
	})
	s.send(`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"review-client","version":"1"}}}`)
	s.response("init", 10*time.Second)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

// send writes lines to the server's stdin in one write.
func (s *rawServer) send(lines ...string) {
	s.t.Helper()
	_, err := io.WriteString(s.stdin, strings.Join(lines, "\n")+"\n")
	require.NoError(s.t, err)
}

func (s *rawServer) snapshot() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.lines...)
}

// response waits for the response with id (compared by its JSON text).
func (s *rawServer) response(id any, within time.Duration) map[string]any {
	s.t.Helper()
	want, _ := json.Marshal(id)
	deadline := time.After(within)
	for {
		for _, m := range s.snapshot() {
			if got, ok := m["id"]; ok {
				b, _ := json.Marshal(got)
				if string(b) == string(want) && m["method"] == nil {
					return m
				}
			}
		}
		select {
		case <-s.got:
		case <-deadline:
			s.t.Fatalf("no response to %s within %s; stderr: %s", want, within, s.stderr.String())
		}
	}
}

func (s *rawServer) records() []audit.Record {
	s.t.Helper()
	f, err := os.Open(s.auditLog)
	require.NoError(s.t, err)
	defer f.Close()
	var out []audit.Record
	require.NoError(s.t, audit.Read(f, func(r audit.Record) error { out = append(out, r); return nil }))
	return out
}

func callLine(id any, tool string, args any, meta map[string]any) string {
	params := map[string]any{"name": tool, "arguments": args}
	if meta != nil {
		params["_meta"] = meta
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
	return string(b)
}

func cancelLine(id any) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled",
		"params": map[string]any{"requestId": id, "reason": "user pressed stop"}})
	return string(b)
}

func isToolError(m map[string]any) bool {
	res, _ := m["result"].(map[string]any)
	return res != nil && res["isError"] == true
}
