package mcpserver

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// InFlight counts the tool calls running, so that the end of the client's
// input can wait for them (HoldEOF).
type InFlight struct{ n atomic.Int64 }

// Running is how many tool calls are in the chain now.
func (f *InFlight) Running() int64 { return f.n.Load() }

// eofQuiet is how long no call must have been running before the end of
// input is passed on: a call read just before the end waits in mcp-go's
// queue for a worker, which picks it up within microseconds when idle.
const eofQuiet = 50 * time.Millisecond

// HoldEOF returns r, whose end of input is passed on only once no tool call
// has run for eofQuiet. mcp-go cancels every request still running when
// its input ends, so a client that writes its calls and closes stdin (a
// pipe, `printf ... | saas-mcp serve`, or a client shutting down as the MCP
// spec asks: close stdin, then wait for the exit) would get its calls
// cancelled, each answered "cancelled" or left in doubt mid-send; held,
// they finish and answer first. ctx ending (SIGTERM) stops the wait. A nil
// f passes r through.
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
}

func (h *eofHolder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if errors.Is(err, io.EOF) && n == 0 {
		h.f.waitIdle(h.ctx)
	}
	return n, err
}

// waitIdle returns once no call has run for eofQuiet, or ctx ends.
func (f *InFlight) waitIdle(ctx context.Context) {
	const tick = 5 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	var quiet time.Duration
	for quiet < eofQuiet {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.Running() == 0 {
			quiet += tick
		} else {
			quiet = 0
		}
	}
}
