package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdioRig is a Stdio over a pipe, serving a test server whose tool
// "block" runs until its release (or its context ends) and records the
// order calls start in.
type stdioRig struct {
	t       *testing.T
	in      *io.PipeWriter
	out     *lineRecorder
	done    chan error
	cancel  context.CancelFunc
	mu      sync.Mutex
	started []int
	release map[int]chan struct{}
}

func newStdioRig(t *testing.T, workers, queue int) *stdioRig {
	t.Helper()
	r := &stdioRig{t: t, out: &lineRecorder{}, done: make(chan error, 1), release: map[int]chan struct{}{}}
	for n := range 10 {
		r.release[n] = make(chan struct{})
	}
	srv := server.NewMCPServer("test", "1")
	srv.AddTool(mcp.NewTool("block", mcp.WithNumber("n")), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n := req.GetInt("n", 0)
		r.mu.Lock()
		r.started = append(r.started, n)
		r.mu.Unlock()
		select {
		case <-r.release[n]:
			return mcp.NewToolResultText(fmt.Sprint("done ", n)), nil
		case <-ctx.Done():
			return mcp.NewToolResultError(fmt.Sprint("cancelled ", n)), nil
		}
	})
	srv.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sess := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
		_ = srv.SendNotificationToClient(ctx, "notifications/message", map[string]any{"level": "info", "data": "hello"})
		return mcp.NewToolResultText("client " + sess.GetClientInfo().Name), nil
	})
	pr, pw := io.Pipe()
	r.in = pw
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	s := NewStdio(srv, workers, queue, slog.New(slog.DiscardHandler))
	go func() { r.done <- s.Listen(ctx, pr, r.out) }()
	t.Cleanup(func() {
		cancel()
		_ = pw.Close()
		for _, ch := range r.release {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	})
	return r
}

func (r *stdioRig) send(line string) {
	r.t.Helper()
	_, err := io.WriteString(r.in, line+"\n")
	require.NoError(r.t, err)
}

func (r *stdioRig) call(id, n int) {
	r.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"block","arguments":{"n":%d}}}`, id, n))
}

// listenEnd returns Listen's error, failing the test with why if it has
// not returned within 5 s.
func (r *stdioRig) listenEnd(why string) error {
	r.t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(5 * time.Second):
		r.t.Fatal(why)
		return nil
	}
}

func (r *stdioRig) startedCalls() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.started...)
}

// waitStarted waits until the calls started are want, in any order: calls
// that start together race to their first line (found in review: a flake).
func (r *stdioRig) waitStarted(want ...int) {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return assert.ElementsMatch(noT{}, want, r.startedCalls()) }, 5*time.Second, time.Millisecond,
		"calls started: want %v", want)
}

// noT lets assert's comparisons run as predicates.
type noT struct{}

func (noT) Errorf(string, ...any) {}

// lineRecorder keeps what is written, checking that each Write is one
// whole message with its newline.
type lineRecorder struct {
	mu     sync.Mutex
	lines  []string
	broken []string
}

func (w *lineRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := string(p)
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 || !json.Valid(p) {
		w.broken = append(w.broken, s)
	}
	w.lines = append(w.lines, strings.TrimSuffix(s, "\n"))
	return len(p), nil
}

// answer returns the message answering id, if written.
func (w *lineRecorder) answer(id int) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		var m struct {
			ID     *int            `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal([]byte(l), &m) == nil && m.ID != nil && *m.ID == id && m.Method == "" {
			return l, true
		}
	}
	return "", false
}

func (w *lineRecorder) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

func (r *stdioRig) waitAnswer(id int) string {
	r.t.Helper()
	var got string
	require.Eventually(r.t, func() bool {
		var ok bool
		got, ok = r.out.answer(id)
		return ok
	}, 5*time.Second, time.Millisecond, "no answer to %d in %v", id, r.out.all())
	return got
}

func (r *stdioRig) notAnswered(id int, within time.Duration) {
	r.t.Helper()
	time.Sleep(within)
	a, ok := r.out.answer(id)
	require.False(r.t, ok, "%d answered: %s", id, a)
}

// At most workers calls run at once; the rest wait and start in the order
// they came, while the reader goes on answering (a ping).
func TestStdioRunsCallsOnItsWorkersAndQueuesTheRestInOrder(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 2, 10)
	for n := 1; n <= 4; n++ {
		r.call(n, n)
	}
	r.waitStarted(1, 2)
	r.send(`{"jsonrpc":"2.0","id":100,"method":"ping"}`)
	r.waitAnswer(100)
	r.send(`{"jsonrpc":"2.0","id":101,"method":"tools/list"}`)
	assert.Contains(t, r.waitAnswer(101), `"block"`)
	r.notAnswered(3, 20*time.Millisecond)
	close(r.release[2])
	assert.Contains(t, r.waitAnswer(2), "done 2")
	r.waitStarted(1, 2, 3)
	close(r.release[1])
	r.waitStarted(1, 2, 3, 4)
	close(r.release[3])
	close(r.release[4])
	for n := 1; n <= 4; n++ {
		assert.Contains(t, r.waitAnswer(n), fmt.Sprint("done ", n))
	}
	require.NoError(t, r.in.Close())
	assert.NoError(t, r.listenEnd("Listen did not return at the end of input"))
	assert.Empty(t, r.out.broken, "every message is written whole, with its newline, in one Write")
}

// Once the queue is full, the next call runs on the reader, which then
// reads nothing more until it ends (mcp-go's rule).
func TestStdioRunsACallOnTheReaderOnceTheQueueIsFull(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 1)
	r.call(1, 1)
	r.waitStarted(1)
	r.call(2, 2) // queued
	r.call(3, 3) // the queue is full: runs on the reader
	r.waitStarted(1, 3)
	go func() { _, _ = io.WriteString(r.in, `{"jsonrpc":"2.0","id":100,"method":"ping"}`+"\n") }()
	r.notAnswered(100, 50*time.Millisecond)
	close(r.release[3])
	r.waitAnswer(3)
	r.waitAnswer(100)
	close(r.release[1])
	r.waitStarted(1, 3, 2)
	close(r.release[2])
	r.waitAnswer(2)
}

// A line that is not JSON gets a parse error with a null id, and the
// reader goes on; a line that is JSON but no request is left to mcp-go.
func TestStdioAnswersALineThatIsNotJSONWithAParseError(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 1)
	r.send(`{"jsonrpc":"2.0","id":1,"method":`)
	r.send("  \t\r") // a blank line: no message, no answer
	r.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	r.waitAnswer(2)
	lines := r.out.all()
	require.Len(t, lines, 2)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`, lines[0])
}

// SIGTERM (ctx): the running call sees its context end, every queued call
// is still answered (the chain refuses it as cancelled, so it is audited;
// mcp-go's StdioServer dropped queued calls unanswered), and Listen returns
// once all have been written.
func TestStdioAnswersEveryCallBeforeItReturnsAtShutdown(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 5)
	r.call(1, 1)
	r.waitStarted(1)
	r.call(2, 2)
	r.call(3, 3)
	r.send(`{"jsonrpc":"2.0","id":100,"method":"ping"}`)
	r.waitAnswer(100) // calls 2 and 3 are queued
	r.cancel()
	assert.ErrorIs(t, r.listenEnd("Listen did not return after ctx ended"), context.Canceled)
	for n := 1; n <= 3; n++ {
		a, ok := r.out.answer(n)
		require.True(t, ok, "call %d answered before Listen returned: %v", n, r.out.all())
		assert.Contains(t, a, fmt.Sprint("cancelled ", n))
	}
}

// The session keeps the client's name from initialize (the audit actor)
// and carries the server's notifications to the output.
func TestStdioSessionKeepsTheClientAndCarriesNotifications(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 1)
	r.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"claude-code","version":"1"}}}`)
	r.waitAnswer(1)
	r.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	r.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	assert.Contains(t, r.waitAnswer(2), "client claude-code")
	require.Eventually(t, func() bool {
		for _, l := range r.out.all() {
			if strings.Contains(l, `"notifications/message"`) && strings.Contains(l, "hello") {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond, "the notification was written: %v", r.out.all())
}

// The reader reads lines as bufio does, whatever their length.
func TestStdioReadsALongLine(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 1)
	pad := strings.Repeat("x", 1<<20)
	r.send(`{"jsonrpc":"2.0","id":7,"method":"ping","params":{"_meta":{"pad":"` + pad + `"}}}`)
	r.waitAnswer(7)
}

// At the end of input every request read before it runs to its end, not
// cancelled, queued calls included, and is answered before Listen returns
// (mcp-go's StdioServer cancelled them all at once).
func TestStdioAnswersEverythingReadBeforeTheEndOfInput(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 5)
	r.call(1, 1)
	r.waitStarted(1)
	r.call(2, 2)
	r.call(3, 3)
	require.NoError(t, r.in.Close())
	select {
	case err := <-r.done:
		t.Fatalf("Listen returned (%v) with calls still to run", err)
	case <-time.After(50 * time.Millisecond):
	}
	for n := 1; n <= 3; n++ {
		close(r.release[n])
	}
	assert.NoError(t, r.listenEnd("Listen did not return once the calls were answered"))
	for n := 1; n <= 3; n++ {
		a, ok := r.out.answer(n)
		require.True(t, ok, "call %d answered", n)
		assert.Contains(t, a, fmt.Sprint("done ", n), "call %d ran to its end", n)
	}
}

// SIGTERM (ctx) while the end of input waits ends the wait: the calls see
// their context end and are answered.
func TestStdioSIGTERMEndsTheWaitAtTheEndOfInput(t *testing.T) {
	t.Parallel()
	r := newStdioRig(t, 1, 5)
	r.call(1, 1)
	r.waitStarted(1)
	r.call(2, 2)
	r.send(`{"jsonrpc":"2.0","id":100,"method":"ping"}`)
	r.waitAnswer(100) // call 2 is queued
	require.NoError(t, r.in.Close())
	// Most often the reader has seen the end by now and Listen waits for
	// the calls; if not, ctx ends first, and the calls must be answered
	// all the same.
	time.Sleep(20 * time.Millisecond)
	r.cancel()
	assert.ErrorIs(t, r.listenEnd("Listen did not return after ctx ended"), context.Canceled)
	for n := 1; n <= 2; n++ {
		a, ok := r.out.answer(n)
		require.True(t, ok, "call %d answered", n)
		assert.Contains(t, a, fmt.Sprint("cancelled ", n))
	}
}

// A last line without its newline is a line: a ping, and a call that the
// reader hands to itself before the goroutine after it reads the end.
func TestStdioReadsALastLineWithoutItsNewline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		last string
		id   int
	}{
		{"ping", `{"jsonrpc":"2.0","id":5,"method":"ping"}`, 5},
		{"call", `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"block","arguments":{"n":6}}}`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newStdioRig(t, 1, 1)
			close(r.release[6])
			_, err := io.WriteString(r.in, tt.last)
			require.NoError(t, err)
			require.NoError(t, r.in.Close())
			require.NoError(t, r.listenEnd("Listen did not return"))
			_, ok := r.out.answer(tt.id)
			assert.True(t, ok, "the last line was answered: %v", r.out.all())
		})
	}
}

// FuzzStdioAnswersWithWholeJSONLines: whatever a client writes, the
// transport returns at the end of input and writes nothing but whole JSON
// messages, one per Write, and answers every ping line it was sent (any
// id a JSON number or string).
func FuzzStdioAnswersWithWholeJSONLines(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n" + `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}`))
	f.Add([]byte("\n\n{]\n[1,2]\nnull\n\"x\"\n{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"a","method":"tools/list"}` + "\r\n" + `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := server.NewMCPServer("fuzz", "1")
		srv.AddTool(mcp.NewTool("echo"), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(fmt.Sprint(req.GetArguments())), nil
		})
		out := &lineRecorder{}
		err := NewStdio(srv, 2, 2, slog.New(slog.DiscardHandler)).Listen(context.Background(), bytes.NewReader(in), out)
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		if len(out.broken) > 0 {
			t.Fatalf("a write that is not one whole JSON message: %q", out.broken)
		}
		pings := 0
		for _, line := range bytes.Split(in, []byte("\n")) {
			var m struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Method  string          `json:"method"`
			}
			if json.Unmarshal(line, &m) == nil && m.JSONRPC == "2.0" && m.Method == "ping" && len(m.ID) > 0 && (m.ID[0] == '"' || m.ID[0] == '-' || (m.ID[0] >= '0' && m.ID[0] <= '9')) {
				pings++
			}
		}
		answers := 0
		for _, l := range out.all() {
			if strings.Contains(l, `"result":{}`) && !strings.Contains(l, `"method"`) {
				answers++
			}
		}
		if answers < pings {
			t.Fatalf("%d ping lines, %d empty results written: %q", pings, answers, out.all())
		}
	})
}

// A call written right behind initialize, without waiting for its answer
// (a pipe), finds the client's name set: initialize runs on the reader
// (found in review: such calls were audited as actor "unknown").
func TestStdioACallPipedBehindInitializeKnowsTheClient(t *testing.T) {
	t.Parallel()
	for range 20 {
		r := newStdioRig(t, 5, 10)
		_, err := io.WriteString(r.in, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"piped","version":"1"}}}`+"\n"+
			`{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"+
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`+"\n")
		require.NoError(t, err)
		assert.Contains(t, r.waitAnswer(2), "client piped")
	}
}
