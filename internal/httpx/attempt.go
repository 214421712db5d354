package httpx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
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

// fate is how far a failed attempt got.
type fate int

const (
	// mayHaveLeft: a connection was obtained, or the base gives no way
	// to tell, so the request may have reached the provider.
	mayHaveLeft fate = iota
	// unconnected: asked for a connection and never got one; the next
	// attempt may get one.
	unconnected
	// turnedDown: net/http refused the request before asking for a
	// connection (no scheme, no host, an invalid header or proxy URL). It
	// never left, and every attempt would fail alike.
	turnedDown
)

// fate tells how far a failed attempt got. net/http fires GetConn before
// it dials or takes an idle connection, and GotConn on the calling
// goroutine before it writes a byte, for HTTP/1 and HTTP/2 alike; so
// "asked for a connection but never got one" is proof even when RoundTrip
// returned early on a cancelled context, and when the base is net/http's
// Transport (traced) an attempt that fired neither hook never reached the
// network at all. WroteHeaders is no such proof: HTTP/2 may fire it after
// RoundTrip has returned. Any other base is judged by its error alone:
// only a dial error counts, since it may fail without firing a hook.
func (w *wire) fate(err error, traced bool) fate {
	switch {
	case unprocessedH2(err):
		// HTTP/2 says so itself: the server refused the stream, or shut
		// down gracefully before it, so nothing was processed. net/http
		// would have retried if it could rewind the body (request keeps it
		// from doing so); the next attempt rewinds from the caller's.
		return unconnected
	case w.gotConn.Load():
		return mayHaveLeft
	case w.getConn.Load(), isDialError(err):
		return unconnected
	case traced:
		return turnedDown
	}
	return mayHaveLeft
}

// request builds the request for the next attempt: a clone under ctx, the
// attempt's deadline, carrying the trace, with the body rewound for every
// attempt after the first. The first attempt sends req.Body itself, so a
// body without GetBody still goes out once.
func (c *call) request(ctx context.Context) (*http.Request, *wire, error) {
	w := &wire{}
	r := c.req.Clone(httptrace.WithClientTrace(ctx, w.trace()))
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

// timedBody is a returned response body, still under its attempt's
// deadline: a body that stalls after the headers must not hold the call
// longer than a stall before them. Closing it stops the deadline's timer.
type timedBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	// timedOut turns a read error caused by the deadline into the error
	// the caller sees, and leaves any other as it is.
	timedOut func(error) error
}

// Read reads the body; once the attempt's deadline has passed, its error
// says so, and says whether the request may have been sent.
func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.timedOut(err)
	}
	return n, err
}

// Close closes the body and releases the attempt's deadline.
func (b *timedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// unprocessedH2 reports the HTTP/2 errors that guarantee the server did
// not process the request: a REFUSED_STREAM reset, a graceful GOAWAY that
// did not include the stream, or a connection found unusable before the
// request was written. net/http's http2 errors are not exported, so their
// text is all there is to go by; anything else (a PROTOCOL_ERROR reset
// after the body was sent, say) stays ambiguous.
//
// A GOAWAY that closed the connection is never taken as unprocessed: its
// text carries the server's debug data, which may say anything, and its
// error code, which may be REFUSED_STREAM while the GOAWAY's last stream
// covers this request (found in review: either phrase matched anywhere in
// the text, so such a POST would have been sent again).
func unprocessedH2(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	if strings.Contains(msg, "http2: server sent GOAWAY and closed the connection") {
		return false
	}
	return refusedStream.MatchString(msg) ||
		strings.Contains(msg, "http2: Transport received Server's graceful shutdown GOAWAY") ||
		strings.Contains(msg, "http2: client conn not usable")
}

// refusedStream is the text of an RST_STREAM with REFUSED_STREAM for the
// request's stream (net/http's http2StreamError).
var refusedStream = regexp.MustCompile(`stream error: stream ID \d+; REFUSED_STREAM(;|$)`)
