package mcpserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowStopRig serves a tool "hold" that runs until its context ends and
// then (call 3) takes stop to wind down (a chain that audits the cancellation, an
// HTTP request being torn down), before it answers "cancelled n".
func slowStopRig(t *testing.T, workers, queue int, stop time.Duration) (in *io.PipeWriter, out *lineRecorder, started chan int, cancel context.CancelFunc, done chan error) {
	t.Helper()
	srv := server.NewMCPServer("test", "1")
	started = make(chan int, 100)
	srv.AddTool(mcp.NewTool("hold", mcp.WithNumber("n")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n := req.GetInt("n", 0)
		started <- n
		<-ctx.Done()
		if n == 3 {
			time.Sleep(stop) // the call the reader runs
		}
		return mcp.NewToolResultError(fmt.Sprint("cancelled ", n)), nil
	})
	pr, pw := io.Pipe()
	out = &lineRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	s := NewStdio(srv, workers, queue, slog.New(slog.DiscardHandler))
	go func() { done <- s.Listen(ctx, pr, out) }()
	t.Cleanup(func() { cancel(); _ = pw.Close() })
	return pw, out, started, cancel, done
}

// SIGTERM (ctx) while the queue is full and the reader itself runs a call
// (the fallback): Listen waits for that call too, as mcp-go's StdioServer
// did, so serve does not close the audit log and the store under it (found
// in review: Listen returned first, and the call's answer was written
// after, or never).
func TestStdioWaitsAtShutdownForTheCallTheReaderRuns(t *testing.T) {
	t.Parallel()
	in, out, started, cancel, done := slowStopRig(t, 1, 1, 300*time.Millisecond)
	line := func(id int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"hold","arguments":{"n":%d}}}`+"\n", id, id)
	}
	_, err := io.WriteString(in, line(1))
	require.NoError(t, err)
	require.Equal(t, 1, recvWithin(t, started)) // on the worker
	_, err = io.WriteString(in, line(2)+line(3))
	require.NoError(t, err)
	require.Equal(t, 3, recvWithin(t, started)) // 2 queued, 3 on the reader
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return")
	}
	for id := 1; id <= 3; id++ {
		a, ok := out.answer(id)
		require.True(t, ok, "call %d not answered when Listen returned (written so far: %v)", id, out.all())
		require.Contains(t, a, fmt.Sprint("cancelled ", id))
	}
}

// A panicking handler (no WithRecovery) is answered with its id and the
// transport goes on; id null, non-object JSON and a client's answer get
// what mcp-go's StdioServer gave them (a reviewer's probes, kept).
func TestStdioAnswersOddLinesAsMcpGoDid(t *testing.T) {
	t.Parallel()
	srv := server.NewMCPServer("test", "1")
	srv.AddTool(mcp.NewTool("boom"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { panic("boom") })
	pr, pw := io.Pipe()
	out := &lineRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- NewStdio(srv, 1, 1, slog.New(slog.DiscardHandler)).Listen(ctx, pr, out) }()
	for _, l := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"boom","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"boom","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":null,"method":"ping"}`,
		`[1,2]`, `null`, `"x"`,
		`{"jsonrpc":"2.0","id":99,"result":{}}`,
		`{"jsonrpc":"2.0","id":3,"method":"ping"}`,
	} {
		_, err := io.WriteString(pw, l+"\n")
		require.NoError(t, err)
	}
	require.NoError(t, pw.Close())
	select {
	case err := <-done:
		require.NoError(t, err) // the end of input waits for every line dispatched
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return at the end of input")
	}
	for _, id := range []int{1, 2} {
		a, ok := out.answer(id)
		require.True(t, ok, "call %d answered", id)
		assert.JSONEq(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"error":{"code":-32603,"message":"internal error in saas-mcp (a bug)"}}`, id), a)
	}
	_, ok := out.answer(3)
	require.True(t, ok, "the ping after them answered")
	_, ok = out.answer(99)
	require.False(t, ok, "a client's answer is not answered")
	// The id-less errors: [1,2] and "x" cannot be parsed as a message, null
	// has no JSON-RPC version; a ping with a null id is a notification.
	var idless []string
	for _, l := range out.all() {
		if strings.Contains(l, `"id":null`) {
			idless = append(idless, l)
		}
	}
	assert.ElementsMatch(t, []string{
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Failed to parse message"}}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid JSON-RPC version"}}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Failed to parse message"}}`,
	}, idless)
	require.Empty(t, out.broken)
}

// recvWithin receives from ch, failing the test after 5 s.
func recvWithin[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received in 5 s")
		var zero T
		return zero
	}
}
