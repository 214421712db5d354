package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"
)

func loadServer(running *atomic.Int64) *server.MCPServer {
	srv := server.NewMCPServer("load", "1")
	srv.AddTool(mcp.NewTool("work", mcp.WithNumber("us")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if running != nil {
			running.Add(1)
			defer running.Add(-1)
		}
		us := req.GetInt("us", 0)
		if us > 0 {
			select {
			case <-time.After(time.Duration(us) * time.Microsecond):
			case <-ctx.Done():
				return mcp.NewToolResultError("cancelled"), nil
			}
		}
		return mcp.NewToolResultText("ok"), nil
	})
	return srv
}

// Many calls over time, in bursts: the goroutines the transport keeps stay
// bounded (running + idle + reader), and none is left after Listen returns.
//
// Not parallel: it counts the process's goroutines. (A reviewer's tests,
// this and the two below, kept.)
func TestStdioKeepsItsGoroutinesBounded(t *testing.T) {
	rng := seeded(t)
	base := runtime.NumGoroutine()
	srv := loadServer(nil)
	pr, pw := io.Pipe()
	out := &lineRecorder{}
	done := make(chan error, 1)
	go func() {
		done <- NewStdio(srv, 5, 1000, slog.New(slog.DiscardHandler)).Listen(context.Background(), pr, out)
	}()
	// Sampled while calls run too, not only between bursts: a design that
	// started a goroutine per call and ended it would pass at rest.
	var peak atomic.Int64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			case <-time.After(100 * time.Microsecond):
				if n := int64(runtime.NumGoroutine() - base - 1); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	id := 0
	maxSeen := 0
	for burst := 0; burst < 20; burst++ {
		var b bytes.Buffer
		n := 1 + burst*7%60
		for range n {
			id++
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"work","arguments":{"us":%d}}}`+"\n", id, rng.IntN(300))
		}
		_, err := pw.Write(b.Bytes())
		require.NoError(t, err)
		want := id
		require.Eventually(t, func() bool { _, ok := out.answer(want); return ok }, 5*time.Second, time.Millisecond)
		time.Sleep(2 * time.Millisecond)
		maxSeen = max(maxSeen, runtime.NumGoroutine()-base)
	}
	close(sampling)
	<-sampled
	// Listen's caller, the notification writer, the reader, 5 running and
	// at most 5 idle.
	require.LessOrEqual(t, maxSeen, 2*5+3, "between bursts")
	require.LessOrEqual(t, peak.Load(), int64(2*5+3), "while calls ran")
	require.NoError(t, pw.Close())
	require.NoError(t, recvWithin(t, done))
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= base+1 }, 2*time.Second, time.Millisecond,
		"goroutines left after Listen: %d (base %d)", runtime.NumGoroutine(), base)
	for i := 1; i <= id; i++ {
		_, ok := out.answer(i)
		require.True(t, ok, "call %d answered", i)
	}
}

// A random mix of calls (fast and slow), pings, other requests,
// notifications, cancellations and junk, cut into random writes, ending
// with or without a newline: every request is answered exactly once
// before Listen returns at the end of input.
func TestStdioAnswersEveryRequestOnceAtTheEndOfInput(t *testing.T) {
	t.Parallel()
	rand := seeded(t)
	for iter := 0; iter < 30; iter++ {
		var running atomic.Int64
		srv := loadServer(&running)
		pr, pw := io.Pipe()
		out := &lineRecorder{}
		done := make(chan error, 1)
		workers, queue := 1+rand.IntN(3), rand.IntN(4)
		go func() {
			done <- NewStdio(srv, workers, queue, slog.New(slog.DiscardHandler)).Listen(context.Background(), pr, out)
		}()
		var lines []string
		var ids []int
		for id := 1; id <= 200; id++ {
			switch rand.IntN(6) {
			case 0, 1, 2:
				lines = append(lines, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"work","arguments":{"us":%d}}}`, id, rand.IntN(2000)))
				ids = append(ids, id)
			case 3:
				lines = append(lines, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, id))
				ids = append(ids, id)
			case 4:
				lines = append(lines, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, id))
				ids = append(ids, id)
			case 5:
				lines = append(lines, cancelOf(fmt.Sprint(id-1-rand.IntN(3))), `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			}
		}
		data := strings.Join(lines, "\n")
		if rand.IntN(2) == 0 {
			data += "\n"
		}
		go func() {
			b := []byte(data)
			for len(b) > 0 {
				n := min(len(b), 1+rand.IntN(300))
				_, _ = pw.Write(b[:n])
				b = b[n:]
			}
			_ = pw.Close()
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("Listen did not return:\n%s", buf[:runtime.Stack(buf, true)])
		}
		require.Zero(t, running.Load(), "a call still running after Listen returned")
		require.Empty(t, out.broken)
		count := map[int]int{}
		for _, l := range out.all() {
			var m struct {
				ID     *int   `json:"id"`
				Method string `json:"method"`
			}
			if json.Unmarshal([]byte(l), &m) == nil && m.ID != nil && m.Method == "" {
				count[*m.ID]++
			}
		}
		for _, id := range ids {
			require.Equal(t, 1, count[id], "iter %d (workers %d queue %d): request %d answered once", iter, workers, queue, id)
		}
	}
}

// Each call's cancellation, sent right after it (in the same write or the
// next), stops it whether it runs at once, is queued, or is run by the
// reader... as long as the queue has room: a reader running a call because
// the queue is full reads nothing until it ends (mcp-go's rule, see
// serve.go), so a cancellation written after such a call is read late.
func TestStdioCancellationAfterTheCallStopsIt(t *testing.T) {
	t.Parallel()
	rand := seeded(t)
	for iter := 0; iter < 20; iter++ {
		c := NewCancellations()
		hooks := &server.Hooks{}
		hooks.AddBeforeCallTool(c.beforeCallTool)
		srv := server.NewMCPServer("load", "1", server.WithHooks(hooks))
		srv.AddTool(mcp.NewTool("slow"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if cancelledBeforeStart(req) {
				return mcp.NewToolResultError("cancelled before start"), nil
			}
			select {
			case <-ctx.Done():
				return mcp.NewToolResultError("cancelled"), nil
			case <-time.After(3 * time.Second):
				return mcp.NewToolResultText("ran to its end"), nil
			}
		})
		pr, pw := io.Pipe()
		out := &lineRecorder{}
		done := make(chan error, 1)
		go func() {
			done <- NewStdio(srv, 2, 1000, slog.New(slog.DiscardHandler)).Listen(context.Background(), c.Watch(pr), out)
		}()
		const n = 12
		for id := 1; id <= n; id++ {
			call := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"slow","arguments":{}}}`, id)
			if rand.IntN(2) == 0 {
				_, err := io.WriteString(pw, call+"\n"+cancelOf(fmt.Sprint(id))+"\n")
				require.NoError(t, err)
			} else {
				_, err := io.WriteString(pw, call+"\n")
				require.NoError(t, err)
				if rand.IntN(2) == 0 {
					time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				}
				_, err = io.WriteString(pw, cancelOf(fmt.Sprint(id))+"\n")
				require.NoError(t, err)
			}
		}
		start := time.Now()
		require.NoError(t, pw.Close())
		require.NoError(t, recvWithin(t, done))
		for id := 1; id <= n; id++ {
			a, ok := out.answer(id)
			require.True(t, ok, "call %d answered", id)
			require.Contains(t, a, "cancelled", "iter %d call %d", iter, id)
		}
		require.Less(t, time.Since(start), 2*time.Second)
	}
}

// seeded returns a generator whose seed the test logs, so that a failure
// can be run again with it (SAAS_MCP_TEST_SEED).
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SAAS_MCP_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (SAAS_MCP_TEST_SEED)", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
