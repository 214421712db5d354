package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Transport is an http.RoundTripper that paces, retries and classifies
// provider requests. It is safe for concurrent use.
type Transport struct {
	o      Options
	limits *limiterSet
	// traced is true when Base is net/http's Transport, whose trace hooks
	// prove an attempt that never asked for a connection never left.
	traced bool
	// timeout is the cause of an attempt's context when AttemptTimeout
	// ends it, so that end is told apart from the caller's.
	timeout error
	// hold is the end of a wait GitHub named (see holdFor).
	hold serverHold
}

// serverHold remembers, across calls, until when the provider asked every
// request to wait.
type serverHold struct {
	mu     sync.Mutex
	until  time.Time
	reason string
}

// holdFor reports whether a wait the provider named holds back every later
// request too, not only the retry of the one it answered. GitHub's rate
// limits (the primary window, and the secondary limits, which "may result
// in the banning of your integration" when ignored) are per token, across
// endpoints: a call after a refused one must not go out before the wait
// GitHub named (found in review: the next call sent its POST at once,
// into the limit). Slack's and Stripe's limits are per method or per
// request, and are left to each call's own retries.
func holdFor(provider string) bool { return provider == "github" }

func (h *serverHold) extend(until time.Time, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if until.After(h.until) {
		h.until, h.reason = until, reason
	}
}

// left is how long the hold still runs at now, and why.
func (h *serverHold) left(now time.Time) (time.Duration, time.Time, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until.Sub(now), h.until, h.reason
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport for o, with defaults for its zero fields.
func New(o Options) *Transport {
	o = o.withDefaults()
	_, traced := o.Base.(*http.Transport)
	return &Transport{
		o: o, limits: newLimiterSet(o.Limits), traced: traced,
		timeout: fmt.Errorf("%w after %s", ErrAttemptTimeout, o.AttemptTimeout),
	}
}

// RoundTrip sends req, retrying as the package doc describes. It returns
// either the last response, unread, or an *Error. The response's body is
// still under its attempt's deadline; closing it releases the deadline.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &call{req: req, ctx: req.Context(), key: t.o.Provider, observer: observerFrom(req.Context()), budget: budgetFrom(req.Context())}
	if k, ok := limitKeyFrom(c.ctx); ok {
		c.key = k
	} else if c.key == "" {
		c.key = "default"
	}
	for {
		// c.attempt counts the requests handed to Base so far; the one
		// being prepared is c.attempt+1.
		res, err := t.pace(c)
		if err != nil {
			if c.attempt == 0 && c.hasBody() {
				_ = req.Body.Close() // a RoundTripper closes the body, even unsent
			}
			return nil, t.fail(c, err)
		}
		// Last word before the attempt leaves (after any wait): the
		// caller may no longer be entitled to send (WithAttemptCheck).
		if err := CheckAttempt(c.ctx, req.Method); err != nil {
			res.cancel(t.o.Now()) // the attempt will not go: its slot is free for the next call
			if c.attempt == 0 && c.hasBody() {
				_ = req.Body.Close()
			}
			return nil, t.fail(c, err)
		}
		// The attempt's deadline runs from here to the close of the
		// returned body; every other way out of this iteration cancels it.
		actx, cancel := context.WithTimeoutCause(c.ctx, t.o.AttemptTimeout, t.timeout)
		r, w, err := c.request(actx)
		if err != nil {
			res.cancel(t.o.Now())
			cancel()
			return nil, t.fail(c, err)
		}
		c.attempt++
		c.observe(Event{Attempt: c.attempt, Reason: c.reason, Status: c.status})
		resp, err := t.o.Base.RoundTrip(r)
		if resp == nil && err == nil {
			err = errors.New("base transport returned neither a response nor an error")
		}

		var v verdict
		if err != nil {
			timedOut := t.expired(actx)
			if timedOut {
				err = t.timedOut(err)
			}
			f := w.fate(err, t.traced)
			c.sent = c.sent || f == mayHaveLeft
			v = judgeError(c.ctx, r, f, timedOut)
		} else {
			now := t.o.Now()
			v = judgeResponse(r, resp, now, t.o.Provider)
			c.sent = c.sent || !v.rejected
			if v.rejected && v.asked && v.wait > 0 && holdFor(t.o.Provider) {
				t.hold.extend(now.Add(v.wait), v.reason)
			}
		}
		wait, again := t.nextWait(c, v)
		if !again {
			if err != nil {
				cancel()
				return nil, t.fail(c, err)
			}
			return t.underDeadline(actx, cancel, c, resp), nil
		}
		c.reason, c.status = v.reason, 0
		if resp != nil {
			c.status = resp.StatusCode
		}
		drain(resp) // under the deadline, so a stalled body cannot hold it
		cancel()
		if err := t.sleep(c, wait, c.reason, c.status); err != nil {
			return nil, t.fail(c, err)
		}
	}
}

// expired reports whether ctx, an attempt's, ended because the attempt
// outlived AttemptTimeout rather than because the caller's context ended.
func (t *Transport) expired(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), t.timeout)
}

// timedOut makes err, the failure of an attempt that outlived its
// deadline, say so. net/http returns the deadline's cause itself; other
// bases may return anything.
func (t *Transport) timedOut(err error) error {
	if errors.Is(err, t.timeout) {
		return err
	}
	return fmt.Errorf("%w: %w", t.timeout, err)
}

// underDeadline hands back resp with its body still under the attempt's
// deadline, which the body's Close releases. A read the deadline cuts
// short fails with an *Error saying the request may have been sent: the
// response has come, so the provider had the request, and an SDK that
// only sees a failed read must learn that the effect is in doubt.
func (t *Transport) underDeadline(ctx context.Context, cancel context.CancelFunc, c *call, resp *http.Response) *http.Response {
	if resp.Body == nil || resp.Body == http.NoBody {
		cancel()
		return resp
	}
	sent, attempts := c.sent, c.attempt
	resp.Body = &timedBody{rc: resp.Body, cancel: cancel, timedOut: func(err error) error {
		if !t.expired(ctx) {
			return err // the caller's context ended, or the body was closed
		}
		return &Error{Provider: t.o.Provider, Sent: sent, Attempts: attempts,
			Err: fmt.Errorf("read response body: %w", t.timedOut(err)), redactor: t.o.Redactor}
	}}
	return resp
}

// nextWait decides whether the call goes on after an attempt, and after
// how long. A wait the caps do not allow ends the call rather than being
// shortened: retrying before the server's named time only earns another
// refusal, and for GitHub a longer ban.
func (t *Transport) nextWait(c *call, v verdict) (time.Duration, bool) {
	if !v.retry || c.attempt >= t.o.MaxAttempts || !c.rewindable() {
		return 0, false
	}
	d := v.wait
	if !v.asked {
		d = backoff(c.attempt, t.o.BaseDelay, t.o.MaxWait, t.o.Rand)
	}
	return d, t.fits(c, d)
}

// fits reports whether a wait of d stays within MaxWait, MaxCallWait and
// the context deadline. The deadline is real time whatever the injected
// clock says, because the context will end in real time.
func (t *Transport) fits(c *call, d time.Duration) bool {
	if d > t.o.MaxWait || d > t.o.MaxCallWait-c.totalWaited() {
		return false
	}
	if dl, ok := c.ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	return true
}

// pace waits for the client-side token buckets before an attempt, and
// returns the tokens it holds, for the caller to give back should the
// attempt not go after all.
func (t *Transport) pace(c *call) (reservation, error) {
	now := t.o.Now()
	// A hold (see holdFor) ends at until; the attempt's token is taken for
	// then, so that writes held back together still leave the limiter's
	// interval apart when the hold ends (found in review: they all left
	// at its end, back to back, right after a secondary limit).
	held, until, why := t.hold.left(now)
	at := now
	if held > 0 {
		at = until
	}
	res := t.limits.reserve(c.req.Method, c.key, at)
	if err := c.ctx.Err(); err != nil {
		res.cancel(now) // the attempt will not go, so its tokens are free
		return reservation{}, err
	}
	delay, reason := res.delay, ReasonClientLimit
	if held > 0 {
		delay, reason = held+res.delay, why
	}
	if delay <= 0 {
		return res, nil
	}
	if !t.fits(c, delay) {
		res.cancel(now)
		if reason != ReasonClientLimit {
			return reservation{}, fmt.Errorf("%s asked every request to wait until %s (%s), beyond this call's wait limits, so this attempt was not sent: %w",
				t.o.Provider, until.UTC().Format(time.RFC3339), why, ErrWaitTooLong)
		}
		return reservation{}, fmt.Errorf("client rate limit needs %s: %w", delay, ErrWaitTooLong)
	}
	if err := t.sleep(c, delay, reason, 0); err != nil {
		res.cancel(t.o.Now())
		return reservation{}, err
	}
	return res, nil
}

// sleep waits d before the next attempt, reporting the wait first, and
// counts it toward MaxCallWait.
func (t *Transport) sleep(c *call, d time.Duration, reason string, status int) error {
	if d <= 0 {
		return c.ctx.Err()
	}
	next := c.attempt + 1
	c.observe(Event{Attempt: next, Wait: d, Reason: reason, Status: status})
	if err := t.o.Sleep(c.ctx, d); err != nil {
		return fmt.Errorf("wait %s before attempt %d: %w", d, next, err)
	}
	c.waited += d
	if c.budget != nil {
		c.budget.waited.Add(int64(d))
	}
	return nil
}

// fail wraps the call's last failure.
func (t *Transport) fail(c *call, err error) *Error {
	return &Error{Provider: t.o.Provider, Sent: c.sent, Attempts: c.attempt, Err: err, redactor: t.o.Redactor}
}

// CloseIdleConnections closes the base transport's idle connections, so
// http.Client.CloseIdleConnections reaches through this wrapper.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.o.Base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
