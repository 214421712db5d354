package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Transport is an http.RoundTripper that paces, retries and classifies
// provider requests. It is safe for concurrent use.
type Transport struct {
	o      Options
	limits *limiterSet
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport for o, with defaults for its zero fields.
func New(o Options) *Transport {
	o = o.withDefaults()
	return &Transport{o: o, limits: newLimiterSet(o.Limits)}
}

// RoundTrip sends req, retrying as the package doc describes. It returns
// either the last response, unread, or an *Error.
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
		if err := t.pace(c); err != nil {
			if c.attempt == 0 && c.hasBody() {
				_ = req.Body.Close() // a RoundTripper closes the body, even unsent
			}
			return nil, t.fail(c, err)
		}
		r, w, err := c.request()
		if err != nil {
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
			notSent := w.notSent(err)
			c.sent = c.sent || !notSent
			v = judgeError(r, notSent)
		} else {
			v = judgeResponse(r, resp, t.o.Now())
			c.sent = c.sent || !v.rejected
		}
		wait, again := t.nextWait(c, v)
		if !again {
			if err != nil {
				return nil, t.fail(c, err)
			}
			return resp, nil
		}
		c.reason, c.status = v.reason, 0
		if resp != nil {
			c.status = resp.StatusCode
		}
		drain(resp)
		if err := t.sleep(c, wait, c.reason, c.status); err != nil {
			return nil, t.fail(c, err)
		}
	}
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

// pace waits for the client-side token buckets before an attempt.
func (t *Transport) pace(c *call) error {
	now := t.o.Now()
	res := t.limits.reserve(c.req.Method, c.key, now)
	if err := c.ctx.Err(); err != nil {
		res.cancel(now) // the attempt will not go, so its tokens are free
		return err
	}
	if res.delay <= 0 {
		return nil
	}
	if !t.fits(c, res.delay) {
		res.cancel(now)
		return fmt.Errorf("client rate limit needs %s: %w", res.delay, ErrWaitTooLong)
	}
	if err := t.sleep(c, res.delay, ReasonClientLimit, 0); err != nil {
		res.cancel(t.o.Now())
		return err
	}
	return nil
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
