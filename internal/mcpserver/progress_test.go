package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/mcpserver"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// stdioClient drives the MCP server over serve's stdio transport in-process,
// through pipes, and keeps every line the server wrote, in order.
type stdioClient struct {
	in    *io.PipeWriter
	mu    sync.Mutex
	lines []json.RawMessage
	done  chan struct{}
}

// startStdio serves srv the way serve does, on mcpserver.Stdio (5 workers,
// a queue of 1000), with its output written through out, and initializes
// the session.
func startStdio(t *testing.T, srv *server.MCPServer, out func(io.Writer) io.Writer) *stdioClient {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &stdioClient{in: inW, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = mcpserver.NewStdio(srv, 5, 1000, slog.New(slog.DiscardHandler)).Listen(ctx, inR, out(outW))
		_ = outW.Close()
	}()
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, append(json.RawMessage(nil), sc.Bytes()...))
			c.mu.Unlock()
			// A client slow to read: the writers queue on the transport's
			// write lock, and a response waiting there overtook the
			// notifications still queued before it (seen with mcp-go's).
			time.Sleep(time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = inW.Close()
		<-stopped
		<-c.done
	})
	c.send(t, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"progress-test","version":"1"}}}`)
	c.waitFor(t, func(m rpcMessage) bool { return string(m.ID) == "0" })
	c.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return c
}

func (c *stdioClient) send(t *testing.T, line string) {
	t.Helper()
	_, err := io.WriteString(c.in, line+"\n")
	require.NoError(t, err)
}

// rpcMessage is any line the server writes: a response (ID set) or a
// notification (Method set).
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		ProgressToken json.RawMessage `json:"progressToken"`
		Progress      float64         `json:"progress"`
	} `json:"params"`
}

func (c *stdioClient) messages(t *testing.T) []rpcMessage {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]rpcMessage, len(c.lines))
	for i, l := range c.lines {
		require.NoError(t, json.Unmarshal(l, &out[i]), "%s", l)
	}
	return out
}

// waitFor waits until a line matching ok was written.
func (c *stdioClient) waitFor(t *testing.T, ok func(rpcMessage) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, m := range c.messages(t) {
			if ok(m) {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond)
}

// instantSleep lets the transport report its waits without taking them, so
// that the answer follows the last progress notification at once.
func instantSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// progressServer is serve's stack with a real GitHub client behind the
// retrying transport, against gh, its progress kept in step by p.
func progressServer(t *testing.T, gh *fakesaas.Server, p *mcpserver.Progress) *server.MCPServer {
	t.Helper()
	tr := httpx.New(httpx.Options{Provider: "github", Sleep: instantSleep})
	client := github.New(github.Config{BaseURL: gh.GitHubAPIURL(), Token: config.NewSecret("ghp_progress0token"),
		HTTPClient: &http.Client{Transport: tr}})
	srv, _ := serveStack(t, t.TempDir(), "sandbox", client, func(o *mcpserver.Options) { o.Progress = p })
	return srv
}

// MCP requires progress to increase with each notification of a token and
// no notification for a request after its response. The notifications go
// out on mcp-go's own goroutine while the response is written by the
// worker that ran the call, so a rate-limited call whose last wait is short
// used to have its progress written after its answer.
func TestProgressOfACallIncreasesAndEndsBeforeItsResponse(t *testing.T) {
	t.Parallel()
	gh := fakesaas.New(fakesaas.WithGitHubToken("ghp_progress0token", "dev"))
	t.Cleanup(gh.Close)
	p := mcpserver.NewProgress()
	c := startStdio(t, progressServer(t, gh, p), p.Output)

	// Three refusals a call, shared: a call refused until its attempts run
	// out is answered with the 429, which is as good here.
	const calls, limited = 40, 3
	gh.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: calls * limited, Status: 429,
		Header: http.Header{"Retry-After": {"1"}}})
	for i := 1; i <= calls; i++ {
		c.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"_meta":{"progressToken":"tok-%d"},"name":"createTicket","arguments":{"repo":"acme/app","title":"Rate limited %d"}}}`, i, i, i))
	}
	answered := func() int {
		n := 0
		for _, m := range c.messages(t) {
			if m.Method == "" && string(m.ID) != "0" {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return answered() == calls }, 30*time.Second, time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a late notification would be written by now

	last := map[string]float64{} // token -> last progress seen
	closed := map[string]bool{}  // token -> its call was answered
	for i, m := range c.messages(t) {
		switch {
		case m.Method == "notifications/progress":
			tok := string(m.Params.ProgressToken)
			assert.False(t, closed[tok], "line %d: progress for %s after its call's response", i, tok)
			assert.Greater(t, m.Params.Progress, last[tok], "line %d: progress for %s does not increase", i, tok)
			last[tok] = m.Params.Progress
		case m.Method == "" && string(m.ID) != "0":
			closed[fmt.Sprintf(`"tok-%s"`, m.ID)] = true
		}
	}
	assert.NotEmpty(t, last, "the waits were reported")
}
