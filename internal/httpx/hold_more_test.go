package httpx

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// GitHubLimits spaces writes writeInterval apart "to stay clear of its
// secondary rate limits". A GitHub hold must not undo that spacing: the
// writes queued behind a hold must still leave writeInterval apart after
// it ends. pace took the limiter's token at the moment it asked (before
// the hold) and then slept max(token delay, hold), so every write held
// back left at the hold's end, together (found in review).
func TestWritesHeldBackByAGitHubWaitStillLeaveTheWriteIntervalApart(t *testing.T) {
	t.Parallel()
	srv := newScripted(t,
		step{status: http.StatusForbidden, header: map[string]string{"Retry-After": "20"}, body: `{"message":"You have exceeded a secondary rate limit"}`},
		step{status: http.StatusCreated, body: `{}`},
	)
	clock := newFakeClock()
	var mu sync.Mutex
	var sentAt []time.Time
	base := srv.srv.Client().Transport
	o := testOptions(clock, roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		sentAt = append(sentAt, clock.Now())
		mu.Unlock()
		return base.RoundTrip(r)
	}))
	o.Provider = "github"
	o.MaxAttempts = 1 // the first call ends with its 403, leaving the hold
	o.Limits = GitHubLimits(5 * time.Second)
	tr := New(o)
	post := func() {
		req, err := http.NewRequest(http.MethodPost, srv.srv.URL, strings.NewReader(`{"title":"t"}`))
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}

	post() // 403, Retry-After 20: held until epoch+20s
	post() // waits the hold, then is sent
	post() // must wait the write interval after the previous write

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, sentAt, 3)
	assert.GreaterOrEqual(t, sentAt[2].Sub(sentAt[1]), 5*time.Second,
		"two writes left %s apart after the hold, GitHubLimits asks for 5s (sent at %v)", sentAt[2].Sub(sentAt[1]), sentAt)
}

// The package doc: a request of any method is retried when "the provider
// rejected it unprocessed (429 ...)". Stripe marks some 429s
// Stripe-Should-Retry: true; the branch for that header retried only
// repeatable requests, so such a 429 to a POST without Idempotency-Key was
// not retried, while the same 429 without the header was (found in review).
func TestAPOSTAnswered429WithStripeShouldRetryTrueIsRetriedAsAny429Is(t *testing.T) {
	t.Parallel()
	srv := newScripted(t,
		step{status: http.StatusTooManyRequests, header: map[string]string{"Stripe-Should-Retry": "true", "Retry-After": "1"},
			body: `{"error":{"type":"invalid_request_error","code":"rate_limit"}}`},
		step{status: http.StatusOK, body: `{}`},
	)
	clock := newFakeClock()
	o := testOptions(clock, srv.srv.Client().Transport)
	o.Provider = "stripe"
	tr := New(o)
	req, err := http.NewRequest(http.MethodPost, srv.srv.URL, strings.NewReader(`amount=1`))
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a 429 was not acted on: it is retried whatever the method")
	assert.Len(t, srv.Requests(), 2)
}

// A retry refused by a hold another call left must not say "nothing was
// sent" when an earlier attempt of the same call may have been: the
// Error's own state says "may have been sent", and the two contradict in
// one line the agent reads.
func TestAHoldRefusingARetryDoesNotSayNothingWasSentAfterASentAttempt(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var tr *Transport
	var once sync.Once
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/limited" {
			return &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"120"}},
				Body: io.NopCloser(strings.NewReader(`{"message":"You have exceeded a secondary rate limit"}`)), Request: r}, nil
		}
		once.Do(func() { // another call, meanwhile, meets a secondary limit
			req, _ := http.NewRequest(http.MethodPost, "http://api.invalid/limited", strings.NewReader(`{}`))
			if resp, err := tr.RoundTrip(req); err == nil {
				_ = resp.Body.Close()
			}
		})
		return &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("bad gateway")), Request: r}, nil
	})
	o := testOptions(clock, base)
	o.Provider = "github"
	tr = New(o)
	req, err := http.NewRequest(http.MethodGet, "http://api.invalid/repos/acme/app/issues", nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, ErrWaitTooLong)
	require.True(t, Sent(err), "the first attempt was answered 502: it may have been acted on")
	assert.NotContains(t, err.Error(), "nothing was sent")
}
