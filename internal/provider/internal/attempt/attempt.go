// Package attempt tells the provider clients whether a failed request may
// have reached the provider, and scrubs secrets from the errors they return.
// It is internal to the provider clients, which share it.
//
// An SDK that fails without an HTTP answer returns only an error, which does
// not say whether the request left the process. Track asks net/http, through
// a client trace in the context, to report each connection it asks for and
// gets; the trace reaches every attempt a retrying transport makes, because
// each one runs with the caller's context.
package attempt

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"syscall"

	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// Attempt records how far the requests of one call got.
type Attempt struct {
	asked  atomic.Bool  // a transport asked for a connection
	got    atomic.Bool  // a transport got one, and may have written to it
	status atomic.Int32 // the last answer's HTTP status, noted by Transport
	// keepBody is set by TrackErrorBody before any request; errBody is the
	// start of the last failed answer's body, kept by Transport.
	keepBody bool
	errBody  atomic.Pointer[[]byte]
}

// errorBodyLimit bounds what ErrorBody keeps: enough for a reason word
// (a Slack incoming webhook's "channel_is_archived"), and the rest of the
// body is left for the SDK unread.
const errorBodyLimit = 200

type attemptKey struct{}

// Track returns a context whose requests report to the returned Attempt.
// Hooks already in ctx keep running.
func Track(ctx context.Context) (context.Context, *Attempt) {
	a := &Attempt{}
	ctx = context.WithValue(ctx, attemptKey{}, a)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { a.asked.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { a.got.Store(true) },
	}), a
}

// TrackErrorBody is Track for a call whose provider names the reason of a
// failure only in the body of its answer, which the SDK drops (slack-go's
// incoming-webhook post keeps only the status): Transport also keeps the
// start of the body of each answer outside 2xx, for ErrorBody.
func TrackErrorBody(ctx context.Context) (context.Context, *Attempt) {
	ctx, a := Track(ctx)
	a.keepBody = true
	return ctx, a
}

// ErrorBody returns up to 200 bytes from the start of the body of the last
// answer outside 2xx to a call tracked by TrackErrorBody, or nil. It is the
// provider's text, unchecked: check its shape before showing any of it.
func (a *Attempt) ErrorBody() []byte {
	if b := a.errBody.Load(); b != nil {
		return *b
	}
	return nil
}

// Status is the HTTP status of the last answer the call got, or 0 (no
// answer, or no Transport under the client). An SDK may drop it: stripe-go
// when an error body is not Stripe's JSON (an HTML 502 from a proxy),
// slack-go when a 429's Retry-After is an HTTP date it cannot parse.
func (a *Attempt) Status() int { return int(a.status.Load()) }

// Transport notes the status of each answer in the Attempt of the
// request's context (Status). Put it under an SDK's client, above the
// retrying transport, so the status is the one the SDK was handed.
type Transport struct{ Base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if a, ok := req.Context().Value(attemptKey{}).(*Attempt); ok && resp != nil {
		a.status.Store(int32(resp.StatusCode))
		if a.keepBody && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			a.keepErrorBody(resp)
		}
	}
	return resp, err
}

// keepErrorBody keeps the start of resp's body for ErrorBody and puts it
// back (httpx.PeekBody), so the SDK reads the body whole, a read error
// included.
func (a *Attempt) keepErrorBody(resp *http.Response) {
	prefix, _ := httpx.PeekBody(resp, errorBodyLimit)
	if prefix != nil {
		a.errBody.Store(&prefix)
	}
}

// WithTransport returns a copy of hc (http.DefaultClient's settings when
// nil) whose transport is Transport over hc's.
func WithTransport(hc *http.Client) *http.Client {
	c := &http.Client{}
	if hc != nil {
		copied := *hc
		c = &copied
	}
	c.Transport = Transport{Base: c.Transport}
	return c
}

// MayHaveSent reports whether a call that failed with err and no HTTP answer
// may have reached the provider.
//
// Once a transport has a connection it may write the request, so any
// failure after that (timeout, reset, EOF) leaves the effect in doubt.
// GotConn fires on the calling goroutine before the first byte is written,
// so "asked for a connection, never got one" proves nothing left, even if
// the call returned early. (WroteRequest proves nothing: the write runs on
// another goroutine and may report after the call has returned.) Without
// trace events (a transport that is not net/http's) the error decides: a
// dial error, or a context that ended before any transport ran, means not
// sent; anything else counts as sent, because guessing "not sent" wrongly
// could double an effect.
func (a *Attempt) MayHaveSent(err error) bool {
	// The retrying transport knows best: it saw every attempt, and does not
	// count those the provider refused unprocessed (429).
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Sent
	}
	switch {
	case a.got.Load():
		return true
	case a.asked.Load():
		return false
	case IsDialError(err):
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}

// IsDialError reports a failure to open a connection, which happens before
// any byte of a request is written.
func IsDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// Scrubber removes secrets from error text: the values of the client's own
// credentials and whatever the caller's redactor knows.
type Scrubber []*redact.Redactor

// String returns s with every secret removed.
func (sc Scrubber) String(s string) string {
	for _, r := range sc {
		s = r.String(s)
	}
	return s
}

// Error returns err with every secret removed from its text. URLs inside
// *url.Error are scrubbed in place too (a Slack webhook URL is itself a
// secret), so the unwrapped chain is as clean as the text; errors.Is and
// errors.As still see the original errors.
func (sc Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = sc.String(ue.URL)
	}
	return &scrubbed{msg: sc.String(err.Error()), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
