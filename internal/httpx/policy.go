package httpx

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
)

// verdict is what one attempt's outcome means for the next.
type verdict struct {
	retry bool
	// wait is the server's named wait, used as is when asked is true;
	// otherwise the transport computes backoff.
	wait   time.Duration
	asked  bool
	reason string
	// rejected is true when the provider answered without acting on the
	// request, so it does not make the call "sent".
	rejected bool
}

// safeMethod reports the methods RFC 9110 defines as safe: repeating them
// changes nothing at the provider.
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// hasIdempotencyKey reports a request the provider deduplicates (Stripe),
// by the same header names net/http treats as replayable.
func hasIdempotencyKey(h http.Header) bool {
	return h.Get("Idempotency-Key") != "" || h.Get("X-Idempotency-Key") != ""
}

// repeatable reports a request that may be sent again after an ambiguous
// failure: a safe method, a provider-deduplicated request, or one the caller
// marked as a read (WithReadOnly) whatever its method.
func repeatable(req *http.Request) bool {
	return safeMethod(req.Method) || hasIdempotencyKey(req.Header) || readOnlyFrom(req.Context())
}

// judgeError classifies a failed attempt that got no response. ctx is the
// caller's: once it has ended nothing is retried, whereas an attempt that
// outlived its own deadline (timedOut) is retried like any other failure.
func judgeError(ctx context.Context, req *http.Request, f fate, timedOut bool) verdict {
	if ctx.Err() != nil {
		return verdict{}
	}
	switch f {
	case unconnected:
		return verdict{retry: true, reason: ReasonNotSent}
	case turnedDown:
		// Never left, but sending it again would fail the same way.
		return verdict{}
	}
	// Sent and unanswered: only a request that may be repeated is.
	v := verdict{retry: repeatable(req), reason: ReasonNetwork}
	if timedOut {
		v.reason = ReasonTimeout
	}
	return v
}

// secondaryLimitWait is GitHub's documented wait after a secondary rate
// limit that names none: "at least one minute". Retrying sooner prolongs
// the limit and risks the integration being banned.
const secondaryLimitWait = time.Minute

// judgeResponse classifies an attempt that got a response. provider is
// Options.Provider.
func judgeResponse(req *http.Request, resp *http.Response, now time.Time, provider string) verdict {
	// Stripe says when a retry would be pointless (a request it already
	// refused for good); its word beats the status code.
	switch should := resp.Header.Get("Stripe-Should-Retry"); {
	case strings.EqualFold(should, "false"):
		return verdict{}
	case strings.EqualFold(should, "true") && resp.StatusCode >= 400:
		// Stripe asks for the request again (a lock_timeout's 409, say),
		// as stripe-go's own retries would: a request that may be repeated
		// is, after the wait it names, if any (found in review).
		if resp.StatusCode == http.StatusTooManyRequests {
			break // a 429 is retried whatever the method, as below
		}
		v := verdict{retry: repeatable(req), reason: ReasonAskedToRetry}
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			v.wait, v.asked = d, true
		}
		return v
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		v := verdict{retry: true, rejected: true, reason: ReasonRateLimited}
		if d, reason, ok := serverWait(resp.Header, now); ok {
			v.wait, v.asked, v.reason = d, true, reason
		} else if provider == "github" {
			// No retry-after and the primary window not spent: a
			// secondary limit (GitHub's docs), not one for backoff.
			v.wait, v.asked, v.reason = secondaryLimitWait, true, ReasonSecondaryLimit
		}
		return v
	case code == http.StatusForbidden:
		// A 403 is a rate limit only when GitHub says so; otherwise it is
		// a permission error that no retry fixes.
		if d, reason, ok := serverWait(resp.Header, now); ok && (reason != ReasonRateLimitReset || saysRateLimited(resp)) {
			return verdict{retry: true, rejected: true, wait: d, asked: true, reason: reason}
		}
		return verdict{}
	case code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported:
		// A 5xx may come after the effect, so only repeatable requests
		// are sent again.
		v := verdict{retry: repeatable(req), reason: ReasonServerError}
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			v.wait, v.asked = d, true
		}
		return v
	}
	return verdict{}
}

// rateLimitPeek bounds how much of a 403's body saysRateLimited reads.
// GitHub's message comes first in its own answers, but a proxy or another
// encoder may put other fields before it; 4 KiB holds those and still
// costs nothing worth counting.
const rateLimitPeek = 4 << 10

// saysRateLimited reports whether a 403 that spent the primary window is a
// rate limit. GitHub counts a request before it reports
// x-ratelimit-remaining, so the request that spends the last unit carries
// "remaining: 0" whatever its outcome, a permission error ("Resource not
// accessible by ...") included; only the body tells them apart, as
// go-github's CheckResponse does. An empty body is a rate limit: GitHub
// documents a 403 with remaining 0 as one, and nothing says otherwise. A
// body that cannot be read is not: the call ends with that response,
// whose body still fails the same way for the caller.
func saysRateLimited(resp *http.Response) bool {
	prefix, err := PeekBody(resp, rateLimitPeek)
	if err != nil {
		return false
	}
	return SaysRateLimited(string(prefix))
}

// SaysRateLimited reports whether GitHub's text for a 403 or 429 that spent
// the primary window (its body, or go-github's RateLimitError message)
// makes it a rate limit: it names one, or there is none (GitHub documents a
// 403 with remaining 0 as one, and nothing says otherwise).
func SaysRateLimited(text string) bool {
	text = strings.TrimSpace(text)
	return text == "" || strings.Contains(strings.ToLower(text), "rate limit")
}

// PeekBody reads up to n bytes from the start of resp's body and puts them
// back, so whoever reads the body next reads all of it; a read error comes
// back after those bytes, unwrapped, as the reader would have met it (an
// SDK may compare it, and the transport turns a deadline's into an *Error).
// The body is bound to the request's context, so its deadline bounds the
// read.
func PeekBody(resp *http.Response, n int64) ([]byte, error) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil, nil
	}
	prefix, err := io.ReadAll(io.LimitReader(resp.Body, n))
	rest := io.Reader(resp.Body)
	if err != nil {
		rest = failingReader{err: err}
	}
	resp.Body = peekedBody{Reader: io.MultiReader(bytes.NewReader(prefix), rest), Closer: resp.Body}
	return prefix, err
}

// peekedBody is a response body whose start was read and put back.
type peekedBody struct {
	io.Reader
	io.Closer
}

// failingReader replays the error that cut a peek short.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// backoff is the wait before retry number n (1 for the first retry) when
// the server named none: full jitter, a uniform draw from [0, ceiling)
// where the ceiling doubles from BaseDelay up to MaxWait. Full jitter
// spreads retries of many callers best (AWS Architecture Blog,
// "Exponential Backoff and Jitter"). It is written here rather than taken
// from cenkalti/backoff, whose ExponentialBackOff only randomises within
// ±RandomizationFactor of the interval and draws from the global source,
// so it can neither do full jitter nor take an injected one.
func backoff(n int, base, maxWait time.Duration, random func() float64) time.Duration {
	ceiling := base
	for i := 1; i < n && ceiling < maxWait && ceiling <= math.MaxInt64/2; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, maxWait)
	f := random()
	if f < 0 || f >= 1 || math.IsNaN(f) {
		f = 0 // a broken source must not make a wait longer than the cap
	}
	return time.Duration(f * float64(ceiling))
}
