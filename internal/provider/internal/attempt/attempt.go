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
	"os"
	"reflect"
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

// Error returns err with every secret removed from its text, and from the
// text of every error its Unwrap chain reaches: an SDK may wrap a failure in
// a message rendered before any scrub (slack-go's "failed to post webhook:
// %w" quotes the webhook URL, itself a secret), so scrubbing the top text,
// or a URL inside, is not enough. The chain is rebuilt (see clean): a level
// whose text and chain are clean is kept as it is, one of the types callers
// look for (*url.Error, *net.OpError, *net.DNSError, *os.SyscallError,
// *httpx.Error) is copied with its secrets removed and the rebuilt chain
// under it, and any other level that quotes a secret is replaced by its
// scrubbed text. So errors.Is still sees the sentinels and context errors,
// errors.As the typed errors, and neither can reach a secret.
func (sc Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbed{msg: sc.String(err.Error()), err: sc.cleanRecovered(err)}
}

// cleanRecovered is clean, or, should a level of the chain panic when
// unwrapped (an error wrapping a typed nil: found in review), a chain of
// one error holding the scrubbed text.
func (sc Scrubber) cleanRecovered(err error) (out error) {
	defer func() {
		if recover() != nil {
			out = &cleanWrap{msg: sc.String(err.Error()), orig: err}
		}
	}()
	return sc.clean(err)
}

// clean returns err unchanged when neither its text nor that of any error
// its chain reaches holds a secret, and otherwise a copy of the chain built
// as Error describes.
func (sc Scrubber) clean(err error) error {
	if err == nil {
		return nil
	}
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		under := x.Unwrap()
		inner := sc.clean(under)
		if inner == under && sc.isClean(err) {
			return err
		}
		if c := sc.copyTyped(err, inner); c != nil && sc.isClean(c) {
			return c
		}
		return &cleanWrap{msg: sc.String(err.Error()), err: inner, orig: err}
	case interface{ Unwrap() []error }:
		unders := x.Unwrap()
		inners := make([]error, 0, len(unders))
		same := true
		for _, u := range unders {
			c := sc.clean(u)
			same = same && c == u
			inners = append(inners, c)
		}
		if same && sc.isClean(err) {
			return err
		}
		return &cleanJoin{msg: sc.String(err.Error()), errs: inners, orig: err}
	}
	if sc.isClean(err) {
		return err
	}
	if c := sc.copyTyped(err, nil); c != nil && sc.isClean(c) {
		return c
	}
	return &cleanWrap{msg: sc.String(err.Error()), orig: err}
}

func (sc Scrubber) isClean(err error) bool {
	msg := err.Error()
	return sc.String(msg) == msg
}

// copyTyped returns a copy of err, if it is of a type callers look for with
// errors.As, whose own fields are scrubbed and whose wrapped error is inner;
// nil for any other type. The original is left as it is: it belongs to the
// SDK or net/http.
func (sc Scrubber) copyTyped(err, inner error) error {
	switch x := err.(type) {
	case *url.Error:
		c := *x
		c.URL, c.Err = sc.String(c.URL), inner
		return &c
	case *net.OpError:
		c := *x
		c.Source, c.Addr, c.Err = sc.addr(c.Source), sc.addr(c.Addr), inner
		return &c
	case *os.SyscallError:
		c := *x
		c.Err = inner
		return &c
	case *net.DNSError:
		c := *x
		c.Err, c.Name, c.Server = sc.String(c.Err), sc.String(c.Name), sc.String(c.Server)
		c.UnwrapErr = inner
		return &c
	case *httpx.Error:
		c := *x
		c.Err = inner
		return &c
	}
	return nil
}

// addr returns a, or, when its text holds a secret (a caller's redactor may
// name a host), a copy of it with the secret removed.
func (sc Scrubber) addr(a net.Addr) net.Addr {
	if a == nil {
		return nil
	}
	network, s := a.Network(), a.String()
	if sc.String(network) == network && sc.String(s) == s {
		return a
	}
	return scrubbedAddr{network: sc.String(network), s: sc.String(s)}
}

// scrubbedAddr is a net.Addr whose text was scrubbed.
type scrubbedAddr struct{ network, s string }

func (a scrubbedAddr) Network() string { return a.network }
func (a scrubbedAddr) String() string  { return a.s }

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// cleanWrap stands for orig, a level of an error chain whose text held a
// secret, with that text scrubbed and the rebuilt chain under it. errors.Is
// still matches orig itself; errors.As cannot return orig, whose text is
// not clean, and looks on down the chain instead.
type cleanWrap struct {
	msg  string
	err  error
	orig error
}

func (e *cleanWrap) Error() string        { return e.msg }
func (e *cleanWrap) Unwrap() error        { return e.err }
func (e *cleanWrap) Is(target error) bool { return isOrig(e.orig, target) }

// Timeout and Temporary answer as orig does: net/http's client timeout
// error has no Unwrap, and a *url.Error copied over a cleanWrap of it
// works out its own Timeout from it (found in review: a scrubbed client
// timeout no longer said it was one).
func (e *cleanWrap) Timeout() bool {
	t, ok := e.orig.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

func (e *cleanWrap) Temporary() bool {
	t, ok := e.orig.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// cleanJoin is cleanWrap for an error that wraps several (errors.Join, or
// fmt.Errorf with more than one %w).
type cleanJoin struct {
	msg  string
	errs []error
	orig error
}

func (e *cleanJoin) Error() string        { return e.msg }
func (e *cleanJoin) Unwrap() []error      { return e.errs }
func (e *cleanJoin) Is(target error) bool { return isOrig(e.orig, target) }

// isOrig reports whether orig is target, as errors.Is would test orig
// itself (its chain is tested through the rebuilt one).
func isOrig(orig, target error) bool {
	if target != nil && reflect.TypeOf(target).Comparable() && orig == target {
		return true
	}
	x, ok := orig.(interface{ Is(error) bool })
	return ok && x.Is(target)
}
