package httpx

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSeconds is the largest count of seconds a time.Duration holds; longer
// waits are clamped to it, which every cap then refuses.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): either
// delta-seconds or an HTTP-date. A date in the past means no wait. ok is
// false for a missing or malformed value.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		return secondsDuration(v), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// parseReset reads GitHub's x-ratelimit-reset, the epoch second at which
// the primary rate limit window resets, as a wait from now.
func parseReset(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if !isDigits(v) {
		return 0, false
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs > maxSeconds {
		// Beyond any representable time: a wait no cap allows.
		return math.MaxInt64, true
	}
	return max(time.Unix(secs, 0).Sub(now), 0), true
}

// serverWait is the wait a 429 or 403 names, and why: Retry-After first,
// as GitHub documents, then GitHub's primary-limit reset when the window is
// spent. ok is false when the response names no wait.
func serverWait(h http.Header, now time.Time) (d time.Duration, reason string, ok bool) {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d, ReasonRetryAfter, true
	}
	if strings.TrimSpace(h.Get("X-Ratelimit-Remaining")) == "0" {
		if d, ok := parseReset(h.Get("X-Ratelimit-Reset"), now); ok {
			return d, ReasonRateLimitReset, true
		}
	}
	return 0, "", false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// secondsDuration turns a string of digits into seconds, clamping values
// too large for a time.Duration.
func secondsDuration(digits string) time.Duration {
	secs, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || secs > maxSeconds {
		return math.MaxInt64
	}
	return time.Duration(secs) * time.Second
}
