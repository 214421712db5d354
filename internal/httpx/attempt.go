package httpx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// maxDrain bounds how much of a discarded response body is read so the
// connection can be reused; past it, closing is cheaper than reading.
const maxDrain = 64 << 10

// call is the state of one RoundTrip across its attempts.
type call struct {
	req      *http.Request
	ctx      context.Context
	key      string
	observer func(Event)

	attempt int
	waited  time.Duration // by this request
	budget  *callBudget   // shared by the requests of one tool call, or nil
	// sent is true once any attempt may have been acted on.
	sent bool
	// reason and status say why the next attempt happens.
	reason string
	status int
}

func (c *call) observe(e Event) {
	if c.observer != nil {
		c.observer(e)
	}
}

// totalWaited is what counts toward MaxCallWait: the whole tool call's
// waiting when the context carries a budget, else this request's.
func (c *call) totalWaited() time.Duration {
	if c.budget != nil {
		return time.Duration(c.budget.waited.Load())
	}
	return c.waited
}

func (c *call) hasBody() bool {
	return c.req.Body != nil && c.req.Body != http.NoBody
}

// rewindable reports whether the body can be sent again.
func (c *call) rewindable() bool {
	return !c.hasBody() || c.req.GetBody != nil
}

// wire records, through httptrace, how far an attempt got. Hooks may run
// on transport goroutines, hence the atomics.
type wire struct {
	getConn atomic.Bool
	gotConn atomic.Bool
}

func (w *wire) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { w.getConn.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { w.gotConn.Store(true) },
	}
}

// notSent reports whether the failed attempt provably never left. net/http
// fires GotConn on the calling goroutine before it writes a byte, for
// HTTP/1 and HTTP/2 alike, so "asked for a connection (GetConn) but never
// got one" is proof even when RoundTrip returned early on a cancelled
// context. WroteHeaders is no such proof: HTTP/2 may fire it after
// RoundTrip has returned. A base that fires no hooks is judged by its
// error alone: only a dial error counts.
func (w *wire) notSent(err error) bool {
	if w.gotConn.Load() {
		return false
	}
	return w.getConn.Load() || isDialError(err)
}

// request builds the request for the next attempt: a clone carrying the
// trace, with the body rewound for every attempt after the first. The
// first attempt sends req.Body itself, so a body without GetBody still
// goes out once.
func (c *call) request() (*http.Request, *wire, error) {
	w := &wire{}
	r := c.req.Clone(httptrace.WithClientTrace(c.ctx, w.trace()))
	if c.attempt > 0 && c.hasBody() {
		body, err := c.req.GetBody()
		if err != nil {
			return nil, nil, fmt.Errorf("rewind request body: %w", err)
		}
		r.Body = body
	}
	if !repeatable(c.req) {
		// net/http's HTTP/2 client re-sends a request on its own after some
		// stream errors that come after the server may have acted (a
		// PROTOCOL_ERROR reset, golang/go#47635), whenever it can rewind the
		// body. Only this transport decides what is repeated, so the base
		// gets no way to rewind a request that must not be; the retries
		// above rewind from c.req, which keeps GetBody.
		r.GetBody = nil
	}
	return r, w, nil
}

// drain reads what is left of a response that will not be returned, so its
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
}
