package httpx

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// ErrWaitTooLong says a call stopped because the next wait would pass
// MaxWait, MaxCallWait or the context deadline.
var ErrWaitTooLong = errors.New("wait exceeds the configured cap")

// ErrAttemptTimeout says an attempt outlived Options.AttemptTimeout. It is
// in the *Error of a call whose last attempt got no response in time, and
// in the *Error a response body's Read returns when the body did not
// arrive in time; that Error's Sent says whether the request may have
// reached the provider (an attempt whose connection never opened did not).
var ErrAttemptTimeout = errors.New("attempt timed out")

// Error is a call that ended without a response, or a response body that
// could not be read before its attempt's deadline. SDKs wrap it in
// *url.Error, or return the body's error as they got it; errors.As finds it
// through either.
type Error struct {
	// Provider is Options.Provider.
	Provider string
	// Sent is false only when no attempt can have been acted on: each one
	// either never left this process or was rejected unprocessed (429, or
	// a GitHub rate-limit 403). When Sent is true the effect is in doubt.
	Sent bool
	// Attempts is how many requests were handed to the base transport.
	Attempts int
	// Err is the last failure, unredacted so errors.Is and errors.As still
	// see net and context errors; print the Error, not Err.
	Err error

	redactor *redact.Redactor
}

// Error returns the failure with every secret removed.
func (e *Error) Error() string {
	who := "request"
	if e.Provider != "" {
		who = e.Provider + " request"
	}
	state := "not sent"
	if e.Sent {
		state = "may have been sent"
	}
	return e.redactor.String(fmt.Sprintf("%s failed after %d attempt(s), %s: %v", who, e.Attempts, state, e.Err))
}

// Unwrap returns the last failure.
func (e *Error) Unwrap() error { return e.Err }

// NotSent reports whether the failed call provably had no effect at the
// provider, so sending it again cannot double the effect. It reads *Error
// through any wrapping, and otherwise recognises dial errors (connection
// refused, DNS failure). An error it cannot classify counts as sent.
func NotSent(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return !e.Sent
	}
	return isDialError(err)
}

// Sent reports whether a failed call may have reached the provider: the
// in-doubt case. It is false for a nil error, which is no failed call.
func Sent(err error) bool {
	return err != nil && !NotSent(err)
}

// isDialError reports a failure to open a connection, which happens before
// any byte of the request is written.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	// TCP reports ECONNREFUSED only to connect.
	return errors.Is(err, syscall.ECONNREFUSED)
}
