package httpx

import (
	"context"
	"sync/atomic"
	"time"
)

type ctxKey int

const (
	limitKeyCtx ctxKey = iota
	observerCtx
	readOnlyCtx
	budgetCtx
	attemptCheckCtx
)

// WithAttemptCheck returns a context whose requests that change something
// (every method but GET and HEAD) run check just before each attempt is
// sent, after any wait for pacing or before a retry: an error stops the
// call there, unsent. The idempotency layer uses it to make sure its claim
// is still its own after a wait another process may have taken for a
// spent lease.
func WithAttemptCheck(ctx context.Context, check func(context.Context) error) context.Context {
	return context.WithValue(ctx, attemptCheckCtx, check)
}

// CheckAttempt runs ctx's attempt check (WithAttemptCheck) for a request of
// method; nil when there is none or the method changes nothing.
func CheckAttempt(ctx context.Context, method string) error {
	check, _ := ctx.Value(attemptCheckCtx).(func(context.Context) error)
	if check == nil || method == "" || method == "GET" || method == "HEAD" {
		return nil
	}
	return check(ctx)
}

// WithCallBudget returns a context whose requests share one MaxCallWait: a
// tool call that makes several requests (a reconciliation's lookups, then
// the send) waits at most MaxCallWait in all, not that much per request.
// Without it, each request has its own.
func WithCallBudget(ctx context.Context) context.Context {
	return context.WithValue(ctx, budgetCtx, &callBudget{})
}

// callBudget is the waiting done so far by the requests of one call.
type callBudget struct{ waited atomic.Int64 }

func budgetFrom(ctx context.Context) *callBudget {
	b, _ := ctx.Value(budgetCtx).(*callBudget)
	return b
}

// WithLimitKey returns a context whose requests are paced under key, e.g.
// SlackPostMessageKey("C123"). Keys are free text; Limits match them by
// prefix.
func WithLimitKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, limitKeyCtx, key)
}

func limitKeyFrom(ctx context.Context) (string, bool) {
	k, ok := ctx.Value(limitKeyCtx).(string)
	return k, ok
}

// Reasons name why a wait or retry happens. They are a fixed vocabulary so
// that audit records and progress messages never carry provider text.
const (
	// ReasonClientLimit is a wait for this process's own token bucket.
	ReasonClientLimit = "client rate limit"
	// ReasonRetryAfter is a wait the server named in Retry-After.
	ReasonRetryAfter = "Retry-After"
	// ReasonRateLimitReset is a wait until GitHub's x-ratelimit-reset.
	ReasonRateLimitReset = "rate limit reset"
	// ReasonRateLimited is a 429 that named no wait, so backoff applies.
	ReasonRateLimited = "rate limited"
	// ReasonSecondaryLimit is a GitHub 429 that named no wait: GitHub asks
	// for at least a minute.
	ReasonSecondaryLimit = "GitHub secondary rate limit (at least one minute)"
	// ReasonServerError is a 5xx to a request that is safe to repeat.
	ReasonServerError = "server error"
	// ReasonAskedToRetry: the provider's answer asked for the request
	// again (Stripe-Should-Retry: true).
	ReasonAskedToRetry = "the provider asked for a retry"
	// ReasonNotSent is a network failure before the request left.
	ReasonNotSent = "connection failed before sending"
	// ReasonNetwork is a network failure of a request safe to repeat.
	ReasonNetwork = "network error"
	// ReasonTimeout is an attempt, safe to repeat, that outlived
	// AttemptTimeout after it may have been sent.
	ReasonTimeout = "attempt timed out"
)

// Event is one step of a call, reported to the observer.
//
// Wait == 0: attempt number Attempt (1..n) is about to be sent; Reason and
// Status say why the previous attempt was repeated (empty and 0 for the
// first).
//
// Wait > 0: the transport is about to sleep for Wait before attempt number
// Attempt; Reason says why and Status is the HTTP status that asked for it
// (0 for network errors and client-side pacing). Zero-length waits are not
// reported.
type Event struct {
	Attempt int
	Wait    time.Duration
	Reason  string
	Status  int
}

// WithObserver returns a context whose calls report each Event to fn. fn
// runs on the caller's goroutine between attempts, so it must be quick and
// must not block. An observer already in ctx keeps being called, before fn,
// so the audit layer and the progress notifier can both watch.
func WithObserver(ctx context.Context, fn func(Event)) context.Context {
	if prev := observerFrom(ctx); prev != nil {
		next := fn
		fn = func(e Event) {
			prev(e)
			next(e)
		}
	}
	return context.WithValue(ctx, observerCtx, fn)
}

func observerFrom(ctx context.Context) func(Event) {
	fn, _ := ctx.Value(observerCtx).(func(Event))
	return fn
}

// WithReadOnly marks every request made with ctx as a read, safe to repeat
// after an ambiguous failure whatever its method. Slack's Web API reads
// (conversations.history) are POSTs; reconciliation marks them so.
func WithReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnlyCtx, true)
}

func readOnlyFrom(ctx context.Context) bool {
	v, _ := ctx.Value(readOnlyCtx).(bool)
	return v
}
