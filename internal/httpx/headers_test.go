package httpx

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{name: "delta-seconds are a wait in seconds", value: "120", want: 2 * time.Minute, wantOK: true},
		{name: "zero seconds means now", value: "0", want: 0, wantOK: true},
		{name: "surrounding spaces are ignored", value: "  7 ", want: 7 * time.Second, wantOK: true},
		{name: "an IMF-fixdate is a wait until then", value: epoch.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, wantOK: true},
		{name: "an obsolete RFC 850 date is accepted", value: epoch.Add(time.Minute).Format(time.RFC850), want: time.Minute, wantOK: true},
		{name: "an ANSI C date is accepted", value: epoch.Add(time.Minute).Format(time.ANSIC), want: time.Minute, wantOK: true},
		{name: "a date in the past means now", value: epoch.Add(-time.Hour).Format(http.TimeFormat), want: 0, wantOK: true},
		{name: "a huge count is clamped, for the caps to refuse", value: "99999999999999999999999", want: math.MaxInt64, wantOK: true},
		{name: "an empty value is no wait", value: "", wantOK: false},
		{name: "a negative count is malformed", value: "-1", wantOK: false},
		{name: "a fraction is malformed", value: "1.5", wantOK: false},
		{name: "text is malformed", value: "soon", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseRetryAfter(tt.value, epoch)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestServerWait(t *testing.T) {
	t.Parallel()
	reset := strconv.FormatInt(epoch.Add(10*time.Second).Unix(), 10)
	tests := []struct {
		name       string
		header     map[string]string
		want       time.Duration
		wantReason string
		wantOK     bool
	}{
		{name: "Retry-After comes first", header: map[string]string{"Retry-After": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, want: 3 * time.Second, wantReason: ReasonRetryAfter, wantOK: true},
		{name: "a spent primary limit waits for the reset", header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, want: 10 * time.Second, wantReason: ReasonRateLimitReset, wantOK: true},
		{name: "a reset in the past means now", header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}, want: 0, wantReason: ReasonRateLimitReset, wantOK: true},
		{name: "a reset with tokens left names no wait", header: map[string]string{"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": reset}},
		{name: "a spent limit with a malformed reset names no wait", header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "tomorrow"}},
		{name: "no headers name no wait", header: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, reason, ok := serverWait(h, epoch)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantReason, reason)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, seed := range []string{
		"0", "3", " 120 ", "-1", "1.5", "", "soon", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Fri, 31 Dec 9999 23:59:59 GMT", "1700000000",
	} {
		f.Add(seed, epoch.Unix())
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		d, ok := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, a negative wait", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v with ok false", v, d)
		}
		if s := strings.TrimSpace(v); isDigits(s) {
			if !ok {
				t.Fatalf("parseRetryAfter(%q) refused delta-seconds", v)
			}
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n <= maxSeconds && d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, want %d seconds", v, d, n)
			}
		}
		r, ok := parseReset(v, now)
		if r < 0 || (!ok && r != 0) {
			t.Fatalf("parseReset(%q) = %v, %v", v, r, ok)
		}
	})
}
