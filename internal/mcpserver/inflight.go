package mcpserver

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// InFlight tracks what serve is still doing for the client (tool calls
// running, responses being written), so that the end of the client's input
// can wait for it (HoldEOF).
type InFlight struct {
	n       atomic.Int64 // tool calls in the chain
	writing atomic.Int64 // writes to the client under way
	// last is when a call or a write last ended (UnixNano): a worker
	// that has just written a response picks the next queued call a
	// moment later.
	last atomic.Int64
	// requests: lines read that mcp-go answers with their id
	// (answeredWithID); responses: answers with an id written (isAnswer).
	// A request queued for a worker, or one whose line mcp-go is still
	// parsing, is not running yet but is owed its answer.
	requests, responses atomic.Int64
	giveUp              time.Duration // eofGiveUp unless set (tests)
}

func (f *InFlight) begin() { f.n.Add(1) }
func (f *InFlight) end() {
	f.last.Store(time.Now().UnixNano())
	f.n.Add(-1)
}

// eofQuiet is how long serve must have been idle (no call running, no
// write under way, none ended) before the end of input is passed on: a
// call read just before the end waits in the queue for a worker,
// which picks it up within microseconds of finishing its last write.
const eofQuiet = 50 * time.Millisecond

// HoldEOF returns r, whose end of input is passed on only once every line
// read that mcp-go answers with its id has its answer written and serve has
// been idle for eofQuiet: no tool call running, no write to the client
// under way (a worker blocked writing to a full stdout pipe, whose client
// reads later, still has queued calls to run after it), none ended
// meanwhile; answers still owed with nothing running or written for
// eofGiveUp are given up on. The transport (Stdio, as mcp-go's
// StdioServer before it) cancels every request still running when its
// input ends, so a client that writes its calls and closes stdin (a pipe,
// `printf ... | saas-mcp serve`, or a client shutting down as the MCP spec
// asks: close stdin, then wait for the exit) would get its calls cancelled,
// each answered "cancelled" or left in doubt mid-send; held, they finish
// and answer first. A last line without a newline gets one (Stdio drops a
// line that ends at EOF). ctx ending (SIGTERM) stops the wait. The writes
// are those made through Output. A nil f passes r through.
func (f *InFlight) HoldEOF(ctx context.Context, r io.Reader) io.Reader {
	if f == nil {
		return r
	}
	return &eofHolder{r: r, f: f, ctx: ctx, lines: lineSplitter{max: maxCountedLine}}
}

type eofHolder struct {
	r   io.Reader
	f   *InFlight
	ctx context.Context
	// unended: the last byte passed on was not a newline.
	unended bool
	eof     bool // r has ended; what is left is the newline and the wait
	lines   lineSplitter
}

func (h *eofHolder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !h.eof {
		n, err := h.r.Read(p)
		if n > 0 {
			h.unended = p[n-1] != '\n'
			h.lines.scan(p[:n], h.f.noteInput)
		}
		if !errors.Is(err, io.EOF) {
			return n, err
		}
		h.eof = true
		if n > 0 {
			return n, nil // the end comes with the next Read (io.Reader allows n > 0 with EOF)
		}
	}
	if h.unended {
		h.unended = false
		p[0] = '\n'
		h.lines.scan(p[:1], h.f.noteInput)
		return 1, nil
	}
	h.f.waitIdle(h.ctx)
	return 0, io.EOF
}

// noteInput counts line if mcp-go will answer it with its id.
func (f *InFlight) noteInput(line []byte, long bool) {
	if long || answeredWithID(line) {
		// A line too long to keep is taken for a request: one that is
		// not costs the wait its give-up time (eofGiveUp).
		f.requests.Add(1)
	}
}

// answeredWithID reports whether mcp-go answers line with an answer that
// carries its id, by the rules of its MCPServer.HandleMessage: a line it
// cannot parse, or one without an id, is a notification or gets a parse
// error with a null id; one with a result is taken for the client's
// answer to a request of ours and dropped; any other line is answered with
// its id (a request, or a line with an id and an error, answered "method
// not found": found in review, counting methods only let such a line's
// answer stand for a later request's).
func answeredWithID(line []byte) bool {
	var m struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		ID      any    `json:"id"`
		Result  any    `json:"result"`
	}
	return json.Unmarshal(line, &m) == nil && m.ID != nil && m.Result == nil
}

// isAnswer reports whether a message written to the client is an answer
// with an id: an id not null and no method (a notification or a request of
// ours has one).
func isAnswer(msg []byte) bool {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
	}
	return json.Unmarshal(msg, &m) == nil && len(m.ID) > 0 && string(m.ID) != "null" && len(m.Method) == 0
}

// maxCountedLine is the longest input line kept to be looked at; a longer
// one (a call with megabytes of arguments) is taken for a request unseen.
const maxCountedLine = 1 << 20

// lineSplitter hands each complete line to a func. A line that one Read
// holds whole is passed in place, whatever its length; the start of a line
// cut by a Read is copied, up to max bytes, beyond which the line is passed
// as long (and empty).
type lineSplitter struct {
	max  int
	line []byte
	long bool
	used bool // the current line has bytes (line or long)
}

func (l *lineSplitter) scan(b []byte, each func(line []byte, long bool)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.hold(b)
			return
		}
		part := b[:i]
		b = b[i+1:]
		if !l.used {
			each(part, false)
			continue
		}
		l.hold(part)
		each(l.line, l.long)
		l.line, l.long, l.used = l.line[:0], false, false
	}
}

func (l *lineSplitter) hold(b []byte) {
	l.used = true
	if l.long {
		return
	}
	if len(l.line)+len(b) > l.max {
		l.line, l.long = l.line[:0], true
		return
	}
	l.line = append(l.line, b...)
}

// eofGiveUp is how long the wait goes on while requests are owed answers
// but nothing runs or is written: a request mcp-go never answers (or
// answers with another id) must not keep serve from exiting.
const eofGiveUp = 5 * time.Second

// waitIdle returns once every request read has its answer written and serve
// has been idle for eofQuiet, counted from the call, or ctx ends.
func (f *InFlight) waitIdle(ctx context.Context) {
	const tick = 5 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now().UnixNano()
	for {
		if f.n.Load() == 0 && f.writing.Load() == 0 {
			quiet := time.Since(time.Unix(0, max(start, f.last.Load())))
			owed := f.requests.Load() > f.responses.Load()
			if (!owed && quiet >= eofQuiet) || quiet >= cmp.Or(f.giveUp, eofGiveUp) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Output returns w, whose writes count as serve being busy (HoldEOF). A
// nil f returns w.
func (f *InFlight) Output(w io.Writer) io.Writer {
	if f == nil {
		return w
	}
	return &busyWriter{w: w, f: f}
}

type busyWriter struct {
	w io.Writer
	f *InFlight
}

// Write counts p as a response when it is one: Stdio writes each message
// whole, with its newline, in one Write.
func (b *busyWriter) Write(p []byte) (int, error) {
	b.f.writing.Add(1)
	defer func() {
		b.f.last.Store(time.Now().UnixNano())
		b.f.writing.Add(-1)
	}()
	n, err := b.w.Write(p)
	if isAnswer(bytes.TrimSuffix(p, []byte("\n"))) {
		b.f.responses.Add(1)
	}
	return n, err
}
