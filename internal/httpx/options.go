package httpx

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// Defaults for the zero values of Options. The caps match the environment
// defaults HTTP_MAX_ATTEMPTS, HTTP_MAX_WAIT, HTTP_MAX_CALL_WAIT and
// HTTP_TIMEOUT.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxWait     = 30 * time.Second
	DefaultMaxCallWait = 60 * time.Second
	// DefaultAttemptTimeout matches HTTP_TIMEOUT.
	DefaultAttemptTimeout = 30 * time.Second
)

// Options configures a Transport. Every field may be left zero.
type Options struct {
	// Provider names the transport in error text ("slack", "github",
	// "stripe") and is the limit key of requests whose context has none
	// ("default" when Provider is empty).
	Provider string
	// Base sends each attempt; http.DefaultTransport when nil.
	Base http.RoundTripper
	// MaxAttempts bounds the requests one call may send, first included;
	// DefaultMaxAttempts when < 1. 1 turns retries off.
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry; it doubles
	// with each retry up to MaxWait. DefaultBaseDelay when <= 0.
	BaseDelay time.Duration
	// MaxWait is the longest single wait; a server that asks for more gets
	// its last response handed back instead. DefaultMaxWait when <= 0.
	MaxWait time.Duration
	// MaxCallWait is the total of all waits in one call, client-side pacing
	// included: one RoundTrip, or every request made with one context from
	// WithCallBudget (a tool call). DefaultMaxCallWait when <= 0.
	MaxCallWait time.Duration
	// AttemptTimeout bounds one attempt from handing it to Base to the last
	// byte of its response body: connecting, sending, waiting for headers
	// and reading. A server that sends headers and then stalls the body
	// would otherwise hold the call for as long as it likes, since a
	// transport's own timeouts stop at the headers. It is not a wait, so
	// it does not count toward MaxCallWait. DefaultAttemptTimeout when <= 0.
	AttemptTimeout time.Duration
	// Limits are the client-side rate limits; none when empty.
	Limits []Limit
	// Now is the clock for Retry-After dates, GitHub resets and the token
	// buckets; time.Now when nil.
	Now func() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then;
	// a timer-based sleep when nil. Tests inject one that records waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for jitter and must be safe for
	// concurrent use; math/rand/v2's Float64 when nil.
	Rand func() float64
	// Redactor removes secrets from error text; token shapes only when nil.
	Redactor *redact.Redactor
}

// withDefaults fills the zero fields, so the rest of the package never
// checks for them.
func (o Options) withDefaults() Options {
	if o.Base == nil {
		o.Base = http.DefaultTransport
	}
	if o.MaxAttempts < 1 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxCallWait <= 0 {
		o.MaxCallWait = DefaultMaxCallWait
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepContext
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o
}

// sleepContext waits for d unless ctx ends first.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
