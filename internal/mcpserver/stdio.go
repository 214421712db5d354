package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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
// workers through another channel: about 90 us of the 100 us a ping took
// through serve on the 2-core bench machine, where a Go program that reads a
// line and writes an answer takes 10 us. Here one goroutine reads every
// line in place and parses it once before MCPServer.HandleMessage; a call
// runs on a goroutine started for it, which the scheduler runs on the
// reader's own thread as soon as the reader waits for the next line.
//
// The rules kept from mcp-go v1.2.1: at most workers tools/call run at
// once, up to queue more wait in order, and once the queue is full the
// reader runs the next call itself; other requests (an id and a method) run
// on goroutines of their own, so a slow one never holds the reader;
// notifications and lines that are not JSON-RPC objects are handled in turn
// on the reader; a line that is not JSON is answered with a parse error
// whose id is null; a last line without a newline is dropped (HoldEOF gives
// it one); each message is written with one Write, its newline included.
// The server sends no requests of its own to the client (sampling,
// elicitation, roots), so the client's answers are passed to HandleMessage,
// which drops them, as mcp-go's StdioServer does when none is pending.
type Stdio struct {
	srv     *server.MCPServer
	workers int
	queue   int
	log     *slog.Logger

	writeMu sync.Mutex

	work    chan stdioWork // tools/call for the workers
	qmu     sync.Mutex     // guards sends on work against its close
	qclosed bool
	calls   sync.WaitGroup // the workers
	others  sync.WaitGroup // requests other than tools/call and ping
}

type stdioWork struct {
	ctx  context.Context
	line []byte
}

// NewStdio returns a transport for srv that runs at most workers tools/call
// at once and queues up to queue more.
func NewStdio(srv *server.MCPServer, workers, queue int, log *slog.Logger) *Stdio {
	return &Stdio{srv: srv, workers: max(workers, 1), queue: max(queue, 0), log: log}
}

// Listen serves until in ends (it returns nil) or ctx ends (it returns
// ctx's error). Either way, requests still running see their context
// cancelled, and Listen returns once they have all ended (queued calls are
// then refused as cancelled by the chain, as each one's context is). A
// Read of in that is under way when ctx ends is left to return on its own.
func (s *Stdio) Listen(ctx context.Context, in io.Reader, out io.Writer) error {
	sess := &stdioSession{notifications: make(chan mcp.JSONRPCNotification, 100)}
	if err := s.srv.RegisterSession(ctx, sess); err != nil {
		return err
	}
	defer s.srv.UnregisterSession(ctx, sess.SessionID())
	ctx = s.srv.WithContext(ctx, sess)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	notified := make(chan struct{})
	go func() {
		defer close(notified)
		for {
			select {
			case n := <-sess.notifications:
				s.write(out, n)
			case <-ctx.Done():
				return
			}
		}
	}()

	s.work = make(chan stdioWork, s.queue)
	for range s.workers {
		s.calls.Go(func() {
			for w := range s.work {
				s.handle(w.ctx, w.line, out)
			}
		})
	}
	read := make(chan error, 1)
	go func() { read <- s.readLoop(ctx, bufio.NewReader(in), out) }()
	var err error
	select {
	case err = <-read:
	case <-ctx.Done():
		err = ctx.Err()
	}
	cancel()
	// The workers run what is queued (the chain refuses it: its context
	// has ended) and stop. The reader may still be in a Read (ctx ended);
	// it dispatches nothing more.
	s.qmu.Lock()
	s.qclosed = true
	close(s.work)
	s.qmu.Unlock()
	s.calls.Wait()
	s.others.Wait()
	<-notified
	return err
}

// readLoop reads and dispatches lines until in ends (nil) or fails.
func (s *Stdio) readLoop(ctx context.Context, r *bufio.Reader, out io.Writer) error {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return nil // Listen has returned or is returning
		}
		s.dispatch(ctx, line, out)
	}
}

// envelope is what dispatch reads of a message: mcp-go's StdioServer
// reads the same two fields, and an id of null counts as none.
type envelope struct {
	Method string `json:"method"`
	ID     any    `json:"id,omitempty"`
}

func (s *Stdio) dispatch(ctx context.Context, line []byte, out io.Writer) {
	var env envelope
	err := json.Unmarshal(line, &env)
	if _, syntax := errors.AsType[*json.SyntaxError](err); syntax {
		s.write(out, mcp.NewJSONRPCError(mcp.NewRequestId(nil), mcp.PARSE_ERROR, "Parse error", nil))
		return
	}
	parsed := err == nil
	switch {
	case parsed && env.Method == string(mcp.MethodToolsCall):
		s.call(ctx, line, out)
	case parsed && env.ID != nil && env.Method != "ping":
		s.others.Go(func() { s.handle(ctx, line, out) })
	default:
		s.handle(ctx, line, out)
	}
}

// call queues a tools/call for the workers, or runs it on the reader once
// the queue is full.
func (s *Stdio) call(ctx context.Context, line []byte, out io.Writer) {
	s.qmu.Lock()
	queued := false
	if !s.qclosed {
		select {
		case s.work <- stdioWork{ctx: ctx, line: line}:
			queued = true
		default:
		}
	}
	s.qmu.Unlock()
	if !queued {
		s.log.Warn("tools/call queue full; running the call on the input loop", "queued", s.queue)
		s.handle(ctx, line, out)
	}
}

// handle runs one message through the server and writes its answer, if it
// has one. A panic is answered as an internal error with the message's id,
// so it cannot end serve (the chain recovers its own; this covers
// mcp-go's).
func (s *Stdio) handle(ctx context.Context, line []byte, out io.Writer) {
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
	}()
	if resp != nil {
		s.write(out, resp)
	}
}

// write sends msg and its newline in one Write (Progress.Output and
// InFlight.Output read whole messages), one message at a time.
func (s *Stdio) write(out io.Writer, msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		s.log.Error("encode a message to the client", "err", err)
		return
	}
	b = append(b, '\n')
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := out.Write(b); err != nil {
		s.log.Error("write to the client", "err", err)
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
