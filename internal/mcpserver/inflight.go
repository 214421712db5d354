package mcpserver

import (
	"context"
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
}

// Running is how many tool calls are in the chain now.
func (f *InFlight) Running() int64 { return f.n.Load() }

func (f *InFlight) begin() { f.n.Add(1) }
func (f *InFlight) end() {
	f.last.Store(time.Now().UnixNano())
	f.n.Add(-1)
}

// eofQuiet is how long serve must have been idle (no call running, no
// write under way, none ended) before the end of input is passed on: a
// call read just before the end waits in mcp-go's queue for a worker,
// which picks it up within microseconds of finishing its last write.
const eofQuiet = 50 * time.Millisecond

// HoldEOF returns r, whose end of input is passed on only once serve has
// been idle for eofQuiet: no tool call running, no write to the client
// under way (a worker blocked writing to a full stdout pipe, whose client
// reads later, still has queued calls to run after it), none ended
// meanwhile. mcp-go cancels every request still running when its input
// ends, so a client that writes its calls and closes stdin (a pipe,
// `printf ... | saas-mcp serve`, or a client shutting down as the MCP spec
// asks: close stdin, then wait for the exit) would get its calls cancelled,
// each answered "cancelled" or left in doubt mid-send; held, they finish
// and answer first. A last line without a newline gets one (mcp-go drops a
// line that ends at EOF). ctx ending (SIGTERM) stops the wait. The writes
// are those made through Output. A nil f passes r through.
func (f *InFlight) HoldEOF(ctx context.Context, r io.Reader) io.Reader {
	if f == nil {
		return r
	}
	return &eofHolder{r: r, f: f, ctx: ctx}
}

type eofHolder struct {
	r   io.Reader
	f   *InFlight
	ctx context.Context
	// unended: the last byte passed on was not a newline.
	unended bool
	eof     bool // r has ended; what is left is the newline and the wait
}

func (h *eofHolder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !h.eof {
		n, err := h.r.Read(p)
		if n > 0 {
			h.unended = p[n-1] != '\n'
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
		return 1, nil
	}
	h.f.waitIdle(h.ctx)
	return 0, io.EOF
}

// waitIdle returns once serve has been idle for eofQuiet, counted from the
// call (the requests read last may not have started yet), or ctx ends.
func (f *InFlight) waitIdle(ctx context.Context) {
	const tick = 5 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now().UnixNano()
	for {
		if f.n.Load() == 0 && f.writing.Load() == 0 && time.Since(time.Unix(0, max(start, f.last.Load()))) >= eofQuiet {
			return
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

func (b *busyWriter) Write(p []byte) (int, error) {
	b.f.writing.Add(1)
	defer func() {
		b.f.last.Store(time.Now().UnixNano())
		b.f.writing.Add(-1)
	}()
	return b.w.Write(p)
}
