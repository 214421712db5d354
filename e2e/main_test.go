// Package e2e builds the real saas-mcp binary and drives it over stdio with
// the official MCP Go SDK client, against the fake providers of
// internal/fakesaas.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// binary is the saas-mcp built once for the whole suite.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "saas-mcp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "saas-mcp")
	build := exec.Command("go", "build", "-o", binary, "../cmd/saas-mcp")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build saas-mcp:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a child's stderr safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is one running saas-mcp with its fake providers and files.
type harness struct {
	t        *testing.T
	fake     *fakesaas.Server
	dir      string
	auditLog string
	stderr   *lockedBuffer
	session  *mcp.ClientSession
	progress chan *mcp.ProgressNotificationParams
	// vars is the environment the server was started with, so restart can
	// start another on the same files; cmd is the running server process.
	vars map[string]string
	cmd  *exec.Cmd
}

// withAllCredentials gives the server the fake's credentials.
func withAllCredentials(f *fakesaas.Server) map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN":   fakesaas.SlackToken,
		"GITHUB_TOKEN":      fakesaas.GitHubToken,
		"STRIPE_SECRET_KEY": fakesaas.StripeKey,
	}
}

// start runs saas-mcp serve against a new fake. env overrides the defaults;
// a value of "" removes the variable.
func start(t *testing.T, env func(*fakesaas.Server) map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, fake: fakesaas.New(), dir: t.TempDir(), stderr: &lockedBuffer{},
		progress: make(chan *mcp.ProgressNotificationParams, 64)}
	t.Cleanup(h.fake.Close)
	h.auditLog = filepath.Join(h.dir, "logs", "audit.ndjson")
	vars := map[string]string{
		"AUDIT_LOG_PATH":        h.auditLog,
		"DATA_DIR":              filepath.Join(h.dir, "data"),
		"SLACK_API_URL":         h.fake.SlackAPIURL(),
		"GITHUB_API_URL":        h.fake.GitHubAPIURL(),
		"STRIPE_API_URL":        h.fake.StripeAPIURL(),
		"GITHUB_WRITE_INTERVAL": "0",
		"SLACK_POST_INTERVAL":   "0",
		"HTTP_TIMEOUT":          "3s",
	}
	if env != nil {
		for k, v := range env(h.fake) {
			vars[k] = v
		}
	}
	h.vars = vars
	h.session = h.connect(vars)
	return h
}

func (h *harness) command(vars map[string]string) *exec.Cmd {
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.dir}
	for k, v := range vars {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stderr = h.stderr
	return cmd
}

func (h *harness) connect(vars map[string]string) *mcp.ClientSession {
	h.t.Helper()
	s, cmd := h.dial(vars)
	h.cmd = cmd
	return s
}

// dial starts one more server process with vars and connects a client to it.
func (h *harness) dial(vars map[string]string) (*mcp.ClientSession, *exec.Cmd) {
	h.t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-client", Version: "1.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			select {
			case h.progress <- req.Params:
			default:
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := h.command(vars)
	s, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(h.t, err, "stderr: %s", h.stderr.String())
	h.t.Cleanup(func() { _ = s.Close() })
	return s, cmd
}

// call runs a tool and returns its result.
func (h *harness) call(name string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	return h.callMeta(name, args, nil)
}

func (h *harness) callMeta(name string, args map[string]any, meta mcp.Meta) *mcp.CallToolResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := h.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args, Meta: meta})
	require.NoError(h.t, err, "stderr: %s", h.stderr.String())
	return res
}

// structured decodes a successful result's structuredContent, checking it
// equals the text content.
func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	require.False(t, res.IsError, "tool error: %s", text(res))
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var got, fromText map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	require.NoError(t, json.Unmarshal([]byte(text(res)), &fromText), "text content is the same JSON")
	require.Equal(t, got, fromText)
	return got
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// records reads the audit log.
func (h *harness) records() []audit.Record {
	h.t.Helper()
	f, err := os.Open(h.auditLog)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(h.t, err)
	defer f.Close()
	var out []audit.Record
	require.NoError(h.t, audit.Read(f, func(r audit.Record) error { out = append(out, r); return nil }))
	return out
}

// statusesOf lists the audit statuses of one tool's records, in order.
func (h *harness) statusesOf(tool string) []string {
	var out []string
	for _, r := range h.records() {
		if r.Tool == tool {
			out = append(out, r.Status)
		}
	}
	return out
}
