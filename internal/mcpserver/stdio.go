package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Stdio serves an MCPServer over newline-delimited JSON-RPC on a reader and
// a writer (serve's stdin and stdout), as mcp-go's StdioServer does, with
// the same rules (below) and less work per message.
//
// mcp-go's StdioServer starts a goroutine for every line it reads and waits
// for it on a channel, parses each line five times before it dispatches it
// (a raw message, then as an answer to each of the three kinds of request a
// server can send, then its method), and hands each tools/call to a pool of
// workers through another channel; on a 2-core VM a hand-off to a
// goroutine parked on another thread costs tens of microseconds (README,
// Performance, for the figures). Here the line is parsed once before
// MCPServer.HandleMessage, a ping is answered by the reader, and a
// tools/call is run by the goroutine that read it (see loop).
//
// The rules kept from mcp-go v1.2.1: at most workers tools/call run at
// once, up to queue more wait in order, and once the queue is full the
// reader runs the next call itself; other messages with an id (requests,
// and a client's answers, which mcp-go drops) but ping and initialize run
// on goroutines of their own, so a slow one never holds the reader;
// notifications and lines that are not JSON-RPC objects are handled in turn
// on the reader; a line that is not JSON is answered with a parse error
// whose id is null (a blank line is skipped); each message is written with one Write, its newline
// included. Not kept: the end of input (see Listen).
// The server sends no requests of its own to the client (sampling,
// elicitation, roots), so the client's answers are passed to HandleMessage,
// which drops them, as mcp-go's StdioServer does when none is pending.
type Stdio struct {
	srv     *server.MCPServer
	workers int
	queue   int
	log     *slog.Logger

	writeMu     sync.Mutex
	writeFailed bool // a write failed (logged once)

	// Set by Listen.
	ctx  context.Context
	r    *bufio.Reader
	out  io.Writer
	read chan error // the reader's end: nil at the end of input, or its error
	stop chan struct{}

	// promote hands the reader's role to an idle goroutine.
	promote chan struct{}

	mu      sync.Mutex
	closed  bool     // Listen is returning: nothing more is dispatched
	running int      // goroutines running tools/call, at most workers
	waiting [][]byte // tools/call lines queued for them, oldest first
	idle    int      // goroutines waiting to become the reader
	busy    sync.WaitGroup
}

// NewStdio returns a transport for srv that runs at most workers tools/call
// at once and queues up to queue more.
func NewStdio(srv *server.MCPServer, workers, queue int, log *slog.Logger) *Stdio {
	return &Stdio{srv: srv, workers: max(workers, 1), queue: max(queue, 0), log: log}
}

// Listen serves until in ends (it returns nil) or ctx ends (it returns
// ctx's error).
//
// At the end of input, every request read before it runs to its end and
// is answered, queued calls included, before Listen returns: a client that
// writes its calls and closes stdin (a pipe, `printf ... | saas-mcp
// serve`, or a client shutting down as the MCP spec asks: close stdin, then
// wait for the exit) gets every answer. A last line without its newline is
// read as a line. (mcp-go's StdioServer cancelled every request still
// running when its input ended, and dropped such a last line.)
//
// When ctx ends (SIGTERM), during that wait or before, the requests still
// running see their context cancelled, and Listen returns once they have
// all ended (queued calls are then refused as cancelled by the chain, as
// each one's context is), each answered. A Read of in that is under way
// when ctx ends is left to return on its own; the line it returns is not
// dispatched. Listen is called once.
func (s *Stdio) Listen(ctx context.Context, in io.Reader, out io.Writer) error {
	sess := &stdioSession{notifications: make(chan mcp.JSONRPCNotification, 100)}
	if err := s.srv.RegisterSession(ctx, sess); err != nil {
		return err
	}
	defer s.srv.UnregisterSession(ctx, sess.SessionID())
	ctx = s.srv.WithContext(ctx, sess)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s.ctx, s.r, s.out = ctx, bufio.NewReader(in), out
	s.read, s.stop, s.promote = make(chan error, 1), make(chan struct{}), make(chan struct{})
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		for {
			select {
			case n := <-sess.notifications:
				s.write(n)
			case <-ctx.Done():
				return
			}
		}
	}()

	go s.loop(nil)
	var err error
	select {
	case err = <-s.read:
		if err == nil {
			// The end of input: nothing more is dispatched (no one reads),
			// so busy only falls from here.
			answered := make(chan struct{})
			go func() {
				s.busy.Wait()
				close(answered)
			}()
			select {
			case <-answered:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	cancel()
	// The calls running finish with their context ended, and the queued
	// ones are run the same way (the chain refuses them), each answered.
	s.mu.Lock()
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.busy.Wait()
	<-notified
	return err
}

// loop is the life of one of the transport's goroutines, which take turns
// as the reader: the one that reads a tools/call hands the reader's role to
// an idle goroutine (or a new one) and runs the call itself, on the thread
// that has just read it, hot, with no hand-off before the call starts (a
// call handed to a worker goroutine waited for another thread to pick it
// up: createTicket's p50 was 0.676 ms that way against 0.500 ms, with
// STORE_SYNC=NORMAL, alternating runs). Done with its calls, it waits to read
// again, or ends if enough goroutines wait already. call is the call it
// starts with; nil starts it as the reader.
func (s *Stdio) loop(call []byte) {
	for {
		if call != nil {
			s.work(call)
			s.mu.Lock()
			if s.closed || s.idle >= s.workers {
				s.mu.Unlock()
				return
			}
			s.idle++
			s.mu.Unlock()
			select {
			case <-s.promote:
			case <-s.stop:
				return
			}
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return // no reader once Listen returns
			}
		}
		if call = s.lead(); call == nil {
			return
		}
	}
}

// lead reads and dispatches lines until one is a tools/call this goroutine
// is to run (it returns it, the reader's role handed on) or the input ends
// (nil, the end passed to Listen).
func (s *Stdio) lead() []byte {
	for {
		line, size, err := s.readLine()
		eof := errors.Is(err, io.EOF)
		if s.ctx.Err() != nil {
			return nil // Listen has returned or is returning
		}
		if size > MaxMessage && (err == nil || eof) {
			s.refuseLong(line, size)
		} else if len(bytes.TrimSpace(line)) > 0 && (err == nil || eof) {
			// A last line without its newline is a line (mcp-go dropped
			// it, unanswered and unaudited). A blank line is no message:
			// skipped (mcp-go answered each with a parse error).
			if call := s.dispatch(line); call != nil {
				// At the end, the goroutine now reading finds it again.
				return call
			}
		}
		if err != nil {
			if eof {
				err = nil
			}
			select {
			case s.read <- err:
			default: // told already
			}
			return nil
		}
	}
}

// MaxMessage is the longest input line serve takes, in bytes: a bound on
// the memory a client that writes without end, or a line of garbage, can
// take (a 40 MiB line took 98 MB before), with room to spare for any call
// of its tools (arguments over 1 MiB are refused by the chain, by field
// and audited; a call padded with whitespace to 24 MB is served). A longer
// line is read to its end, its bytes past the limit dropped as they come,
// and answered with an error.
const MaxMessage = 32 << 20

// readLine reads the next line, newline included as ReadBytes does, and
// its size. Its fragments are copied as they come and joined once at the
// end, as ReadBytes does (appending them one by one to a growing slice
// allocated about five times a long line's size; found in review); of a
// line over MaxMessage only the first idPrefix bytes are returned, for
// idOf, and the rest is let go as it comes.
func (s *Stdio) readLine() (line []byte, size int, err error) {
	var frags [][]byte
	var head []byte // of a line over MaxMessage, its first idPrefix bytes
	for {
		frag, ferr := s.r.ReadSlice('\n')
		switch {
		case head != nil: // over the limit: let go
		case size+len(frag) <= MaxMessage:
			frags = append(frags, bytes.Clone(frag))
		default:
			head = []byte{}
			for _, f := range append(frags, frag) {
				if len(head) >= idPrefix {
					break
				}
				head = append(head, f[:min(len(f), idPrefix-len(head))]...)
			}
			frags = nil
		}
		size += len(frag)
		if errors.Is(ferr, bufio.ErrBufferFull) {
			continue
		}
		switch {
		case head != nil:
			return head, size, ferr
		case len(frags) == 1:
			return frags[0], size, ferr
		}
		return bytes.Join(frags, nil), size, ferr
	}
}

// refuseLong answers a line over MaxMessage with an Invalid Request error
// under the id its start holds (when the id comes before the arguments, as
// the clients in use write it), so that the client waiting for it learns
// why; nothing of the message was run.
func (s *Stdio) refuseLong(prefix []byte, size int) {
	s.log.Warn("input line over the limit refused", "bytes", size, "limit", MaxMessage)
	s.answerNow(mcp.NewJSONRPCError(mcp.NewRequestId(idOf(prefix)), mcp.INVALID_REQUEST, fmt.Sprintf(
		"message of %d bytes refused: saas-mcp reads at most %d bytes per message (one line of JSON), so nothing of it was run", size, MaxMessage), nil))
}

// idPrefix is how much of a line over MaxMessage idOf looks at: the id
// comes first or second in what the clients in use write, and decoding the
// whole kept prefix took 286 MiB for a 33 MiB line (found in review).
const idPrefix = 64 << 10

// idOf returns the "id" of the JSON-RPC message that prefix starts, as
// encoding/json would read it into dispatch's envelope (the key in any
// case, the last of several), among the members that end within the first
// idPrefix bytes; nil when there is none, or it is neither an integer nor
// a string.
func idOf(prefix []byte) any {
	dec := json.NewDecoder(bytes.NewReader(prefix[:min(len(prefix), idPrefix)]))
	dec.UseNumber() // an integer id as sent, past 2^53 too
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var id any
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		if k, _ := t.(string); !strings.EqualFold(k, "id") {
			continue
		}
		id = nil
		var x any
		vd := json.NewDecoder(bytes.NewReader(v))
		vd.UseNumber()
		if vd.Decode(&x) != nil {
			continue
		}
		switch x := x.(type) {
		case json.Number:
			if n, err := x.Int64(); err == nil {
				id = n
			}
		case string:
			id = x
		}
	}
	return id
}

// knownTool reports whether name names a tool of the server, or is
// neither a string nor missing (mcp-go refuses that as it parses the call).
func (s *Stdio) knownTool(name any) bool {
	if name == nil {
		return false
	}
	n, ok := name.(string)
	return !ok || s.srv.GetTool(n) != nil
}

// refuseTool answers a tools/call of a tool the server does not have, or of
// none, naming the tools it has (mcp-go said "tool 'x' not found: tool not
// found", and for a call without a name "tool ” not found"). Nothing ran,
// so nothing is audited, as before.
func (s *Stdio) refuseTool(env envelope) {
	names := slices.Sorted(maps.Keys(s.srv.ListTools()))
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	msg := fmt.Sprintf("unknown tool %q: the tools of this server are %s (tools/list describes them)", env.Params.Name, list)
	if env.Params.Name == nil || env.Params.Name == "" {
		msg = "tools/call needs params.name, the tool to call: one of " + list + " (tools/list describes them)"
	}
	s.answerNow(mcp.NewJSONRPCError(mcp.NewRequestId(env.ID), mcp.INVALID_PARAMS, msg, nil))
}

// answerNow writes msg, the reader's own answer to a message the server
// never sees, counted in busy as any message handled is (Listen waits for
// it), unless Listen is returning.
func (s *Stdio) answerNow(msg any) {
	if s.enter() {
		s.write(msg)
		s.busy.Done()
	}
}

// envelope is what dispatch reads of a message: the method and the id, as
// mcp-go's StdioServer reads them (an id of null counts as none), and of a
// tools/call the tool's name (refuseTool).
type envelope struct {
	Method string `json:"method"`
	ID     any    `json:"id"`
	Params struct {
		Name any `json:"name"` // of a tools/call: the tool
	} `json:"params"`
}

// dispatch handles line, or starts it on a goroutine of its own; it
// returns a tools/call the reader is to run itself, having handed its role
// on.
func (s *Stdio) dispatch(line []byte) []byte {
	var env envelope
	err := json.Unmarshal(line, &env)
	_, syntax := errors.AsType[*json.SyntaxError](err)
	parsed := err == nil
	switch {
	case parsed && env.Method == string(mcp.MethodToolsCall) && env.ID != nil && !s.knownTool(env.Params.Name):
		s.refuseTool(env)
	case parsed && env.Method == string(mcp.MethodToolsCall):
		return s.call(line)
	case !s.enter():
	case syntax:
		s.write(mcp.NewJSONRPCError(mcp.NewRequestId(nil), mcp.PARSE_ERROR, "Parse error", nil))
		s.busy.Done()
	case parsed && env.ID != nil && env.Method != string(mcp.MethodPing) && env.Method != string(mcp.MethodInitialize):
		// Off the reader, so that a request that waits never holds it
		// (mcp-go's rule); ping answers at once and stays on it, and so
		// does initialize, so that the calls a client writes right behind
		// it find its name (the audit actor) set (found in review: calls
		// piped behind initialize were audited as actor "unknown").
		go func() {
			defer s.busy.Done()
			s.handle(s.ctx, line)
		}()
	default:
		s.handle(s.ctx, line)
		s.busy.Done()
	}
	return nil
}

// enter counts a message about to be handled in busy, which Listen waits
// for, unless Listen is returning (false: the message is dropped).
func (s *Stdio) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.busy.Add(1)
	return true
}

// call returns a tools/call for the reader to run when fewer than workers
// run, having handed the reader's role on; queues it when the queue has
// room; and runs it on the reader, which reads nothing meanwhile, when the
// queue is full (mcp-go's rule).
func (s *Stdio) call(line []byte) []byte {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil
	case s.running < s.workers:
		s.running++
		s.busy.Add(1)
		promote := s.idle > 0
		if promote {
			s.idle--
		}
		s.mu.Unlock()
		if !promote {
			go s.loop(nil)
		} else {
			select {
			case s.promote <- struct{}{}:
			case <-s.stop:
			}
		}
		return line
	case len(s.waiting) < s.queue:
		s.waiting = append(s.waiting, line)
		s.mu.Unlock()
		return nil
	default:
		s.busy.Add(1) // Listen waits for it too (found in review)
		s.mu.Unlock()
		s.log.Warn("tools/call queue full; running the call on the input loop", "queued", s.queue)
		s.handle(s.ctx, line)
		s.busy.Done()
		return nil
	}
}

// work runs line, then the queued calls in order until none is left.
func (s *Stdio) work(line []byte) {
	defer s.busy.Done()
	for {
		s.handle(s.ctx, line)
		s.mu.Lock()
		if len(s.waiting) == 0 {
			s.running--
			s.mu.Unlock()
			return
		}
		line = s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		if len(s.waiting) == 0 {
			s.waiting = nil // let the queue's array go once drained
		}
		s.mu.Unlock()
	}
}

// handle runs one message through the server and writes its answer, if it
// has one. A panic is answered as an internal error with the message's id,
// so it cannot end serve (the chain recovers its own; this covers
// mcp-go's).
func (s *Stdio) handle(ctx context.Context, line []byte) {
	var resp mcp.JSONRPCMessage
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic handling a message", "panic", p)
				var env envelope
				_ = json.Unmarshal(line, &env)
				if env.ID != nil {
					resp = mcp.NewJSONRPCError(mcp.NewRequestId(env.ID), mcp.INTERNAL_ERROR, "internal error in saas-mcp (a bug)", nil)
				}
			}
		}()
		resp = s.srv.HandleMessage(ctx, line)
		if unparsableNumber(resp) {
			if tamed, sent, ok := tameArguments(line); ok {
				resp = s.srv.HandleMessage(context.WithValue(ctx, argumentsAsSentKey{}, sent), tamed)
			}
		}
	}()
	if resp != nil {
		s.write(resp)
	}
}

// write sends msg and its newline in one Write (Progress.Output reads
// whole messages), one message at a time.
func (s *Stdio) write(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		s.log.Error("encode a message to the client", "err", err)
		return
	}
	b = append(b, '\n')
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.out.Write(b); err != nil && !s.writeFailed {
		// Once: a client that has gone fails every later write too.
		s.writeFailed = true
		s.log.Error("write to the client failed; answers from here on are lost", "err", err)
	}
}

// stdioSession is the one client session of a stdio server: it keeps what
// the client said of itself at initialize (the audit actor is its name) and
// the log level it asked for, and carries notifications to Listen.
type stdioSession struct {
	notifications chan mcp.JSONRPCNotification
	initialized   atomic.Bool

	mu       sync.Mutex
	info     mcp.Implementation
	caps     mcp.ClientCapabilities
	logLevel mcp.LoggingLevel
}

var (
	_ server.SessionWithClientInfo = (*stdioSession)(nil)
	_ server.SessionWithLogging    = (*stdioSession)(nil)
)

func (s *stdioSession) SessionID() string { return "stdio" }
func (s *stdioSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	return s.notifications
}
func (s *stdioSession) Initialize()       { s.initialized.Store(true) }
func (s *stdioSession) Initialized() bool { return s.initialized.Load() }

func (s *stdioSession) GetClientInfo() mcp.Implementation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *stdioSession) SetClientInfo(info mcp.Implementation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info = info
}

func (s *stdioSession) GetClientCapabilities() mcp.ClientCapabilities {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caps
}

func (s *stdioSession) SetClientCapabilities(caps mcp.ClientCapabilities) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caps = caps
}

func (s *stdioSession) SetLogLevel(level mcp.LoggingLevel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logLevel = level
}

// GetLogLevel is error until the client sets another, as in mcp-go.
func (s *stdioSession) GetLogLevel() mcp.LoggingLevel {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logLevel == "" {
		return mcp.LoggingLevelError
	}
	return s.logLevel
}
