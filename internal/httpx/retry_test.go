package httpx

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	// jittered is the backoff before retry n with the test's fixed draw
	// of 0.5, from the package defaults.
	jittered := func(n int) time.Duration {
		return time.Duration(0.5 * float64(min(DefaultBaseDelay<<(n-1), DefaultMaxWait)))
	}
	reset := strconv.FormatInt(epoch.Add(25*time.Second).Unix(), 10)
	tests := []struct {
		name       string
		method     string
		reqHeader  map[string]string
		steps      []step
		wantHits   int
		wantStatus int
		wantWaits  []time.Duration
	}{
		{
			name:     "a 429 with Retry-After in seconds waits that many seconds",
			method:   http.MethodGet,
			steps:    []step{{status: 429, header: map[string]string{"Retry-After": "3"}}, {status: 200}},
			wantHits: 2, wantStatus: 200, wantWaits: []time.Duration{3 * time.Second},
		},
		{
			name:   "a 429 with Retry-After as an HTTP date waits until that date",
			method: http.MethodGet,
			steps: []step{
				{status: 429, header: map[string]string{"Retry-After": epoch.Add(7 * time.Second).Format(http.TimeFormat)}},
				{status: 200},
			},
			wantHits: 2, wantStatus: 200, wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name:   "a Retry-After date in the past retries at once",
			method: http.MethodGet,
			steps: []step{
				{status: 429, header: map[string]string{"Retry-After": epoch.Add(-time.Hour).Format(http.TimeFormat)}},
				{status: 200},
			},
			wantHits: 2, wantStatus: 200,
		},
		{
			name:   "a GitHub 403 with the primary limit spent waits until the reset",
			method: http.MethodGet,
			steps: []step{
				{status: 403, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}},
				{status: 200},
			},
			wantHits: 2, wantStatus: 200, wantWaits: []time.Duration{25 * time.Second},
		},
		{
			name:   "a GitHub 429 with the primary limit spent waits until the reset",
			method: http.MethodPost,
			steps: []step{
				{status: 429, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}},
				{status: 201},
			},
			wantHits: 2, wantStatus: 201, wantWaits: []time.Duration{25 * time.Second},
		},
		{
			name:   "a GitHub secondary limit 403 to a POST waits its retry-after and sends again",
			method: http.MethodPost,
			steps: []step{
				{status: 403, header: map[string]string{"Retry-After": "5", "X-RateLimit-Remaining": "12"}},
				{status: 201},
			},
			wantHits: 2, wantStatus: 201, wantWaits: []time.Duration{5 * time.Second},
		},
		{
			name:     "a 403 without rate-limit headers is a permission error and is not retried",
			method:   http.MethodGet,
			steps:    []step{{status: 403, header: map[string]string{"X-RateLimit-Remaining": "4999"}}},
			wantHits: 1, wantStatus: 403,
		},
		{
			name:     "a Slack 429 to chat.postMessage waits its Retry-After and sends again",
			method:   http.MethodPost,
			steps:    []step{{status: 429, header: map[string]string{"Retry-After": "1"}}, {status: 200}},
			wantHits: 2, wantStatus: 200, wantWaits: []time.Duration{time.Second},
		},
		{
			name:     "a 429 naming no wait backs off with jitter",
			method:   http.MethodPost,
			steps:    []step{{status: 429}, {status: 200}},
			wantHits: 2, wantStatus: 200, wantWaits: []time.Duration{jittered(1)},
		},
		{
			name:     "5xx answers to a GET are retried with growing backoff",
			method:   http.MethodGet,
			steps:    []step{{status: 503}, {status: 502}, {status: 200}},
			wantHits: 3, wantStatus: 200, wantWaits: []time.Duration{jittered(1), jittered(2)},
		},
		{
			name:     "a 5xx with Retry-After to a GET waits the named time",
			method:   http.MethodGet,
			steps:    []step{{status: 503, header: map[string]string{"Retry-After": "4"}}, {status: 200}},
			wantHits: 2, wantStatus: 200, wantWaits: []time.Duration{4 * time.Second},
		},
		{
			name:     "a 5xx to a POST is returned, not sent again",
			method:   http.MethodPost,
			steps:    []step{{status: 500}, {status: 201}},
			wantHits: 1, wantStatus: 500,
		},
		{
			name:     "a 5xx to a PATCH is returned, not sent again",
			method:   http.MethodPatch,
			steps:    []step{{status: 502}, {status: 200}},
			wantHits: 1, wantStatus: 502,
		},
		{
			name:      "a POST with an Idempotency-Key is retried on 5xx",
			method:    http.MethodPost,
			reqHeader: map[string]string{"Idempotency-Key": "k-1"},
			steps:     []step{{status: 500}, {status: 200}},
			wantHits:  2, wantStatus: 200, wantWaits: []time.Duration{jittered(1)},
		},
		{
			name:      "Stripe-Should-Retry false stops a retry the policy would allow",
			method:    http.MethodPost,
			reqHeader: map[string]string{"Idempotency-Key": "k-2"},
			steps:     []step{{status: 503, header: map[string]string{"Stripe-Should-Retry": "false"}}, {status: 200}},
			wantHits:  1, wantStatus: 503,
		},
		{
			name:     "501 Not Implemented is permanent and not retried",
			method:   http.MethodGet,
			steps:    []step{{status: 501}, {status: 200}},
			wantHits: 1, wantStatus: 501,
		},
		{
			name:     "a 404 is not retried",
			method:   http.MethodGet,
			steps:    []step{{status: 404}, {status: 200}},
			wantHits: 1, wantStatus: 404,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newScripted(t, tt.steps...)
			clock := newFakeClock()
			client := &http.Client{Transport: New(testOptions(clock, srv.srv.Client().Transport))}

			req, err := http.NewRequest(tt.method, srv.srv.URL, strings.NewReader(`{"x":1}`))
			require.NoError(t, err)
			for k, v := range tt.reqHeader {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()

			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Len(t, srv.Requests(), tt.wantHits)
			assert.Equal(t, tt.wantWaits, clock.Waits())
		})
	}
}

func TestCaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      func(*Options)
		deadline  time.Duration
		steps     []step
		wantHits  int
		wantWaits []time.Duration
	}{
		{
			name:     "a Retry-After longer than MaxWait returns the 429 at once",
			opts:     func(o *Options) { o.MaxWait = 30 * time.Second },
			steps:    []step{{status: 429, header: map[string]string{"Retry-After": "120"}, body: "slow down"}},
			wantHits: 1,
		},
		{
			name: "a GitHub reset beyond MaxWait returns the 403 at once",
			opts: func(o *Options) { o.MaxWait = 30 * time.Second },
			steps: []step{{status: 403, body: "slow down", header: map[string]string{
				"X-RateLimit-Remaining": "0",
				"X-RateLimit-Reset":     strconv.FormatInt(epoch.Add(31*time.Minute).Unix(), 10),
			}}},
			wantHits: 1,
		},
		{
			name:      "waits that together would pass MaxCallWait stop the call",
			opts:      func(o *Options) { o.MaxWait, o.MaxCallWait = 30*time.Second, 30*time.Second },
			steps:     []step{{status: 429, header: map[string]string{"Retry-After": "20"}, body: "slow down"}},
			wantHits:  2,
			wantWaits: []time.Duration{20 * time.Second},
		},
		{
			name:      "MaxAttempts bounds the requests sent",
			opts:      func(o *Options) { o.MaxAttempts = 3 },
			steps:     []step{{status: 429, header: map[string]string{"Retry-After": "1"}, body: "slow down"}},
			wantHits:  3,
			wantWaits: []time.Duration{time.Second, time.Second},
		},
		{
			name:     "a wait past the context deadline is not started",
			deadline: 10 * time.Second,
			steps:    []step{{status: 429, header: map[string]string{"Retry-After": "20"}, body: "slow down"}},
			wantHits: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newScripted(t, tt.steps...)
			clock := newFakeClock()
			o := testOptions(clock, srv.srv.Client().Transport)
			if tt.opts != nil {
				tt.opts(&o)
			}
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.srv.URL, nil)
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: New(o)}).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()

			// The last refusal comes back whole, for the SDK to report.
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.steps[len(tt.steps)-1].status, resp.StatusCode)
			assert.Equal(t, "slow down", string(body))
			assert.Len(t, srv.Requests(), tt.wantHits)
			assert.Equal(t, tt.wantWaits, clock.Waits())
		})
	}
}

func TestCancelDuringWaitReturnsPromptly(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 503, header: map[string]string{"Retry-After": "25"}})
	// The real sleep: what is under test is that it gives up on cancel.
	tr := New(Options{Base: srv.srv.Client().Transport})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx = WithObserver(ctx, func(e Event) {
		if e.Wait > 0 {
			go func() {
				time.Sleep(10 * time.Millisecond)
				cancel()
			}()
		}
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.srv.URL, nil)
	require.NoError(t, err)

	start := time.Now()
	resp, err := tr.RoundTrip(req)
	elapsed := time.Since(start)

	require.Error(t, err)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, elapsed, 5*time.Second, "the 25s wait must end on cancel")
	var he *Error
	require.ErrorAs(t, err, &he)
	assert.True(t, he.Sent, "the first GET reached the server")
	assert.Equal(t, 1, he.Attempts)
	assert.Len(t, srv.Requests(), 1)
}

func TestBodyRewoundOnRetry(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 503}, step{status: 429}, step{status: 200})
	live := srv.srv.Client().Transport
	// Record the body each attempt hands to the base. net/http would
	// itself replay a body left empty (through GetBody), which would hide
	// a missing rewind from the server's view.
	var mu sync.Mutex
	var handed []string
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		handed = append(handed, string(b))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		return live.RoundTrip(r)
	})
	client := &http.Client{Transport: New(testOptions(newFakeClock(), base))}

	const payload = `{"amount":1200,"currency":"eur"}`
	req, err := http.NewRequest(http.MethodPost, srv.srv.URL, strings.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "pay-1")
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, []string{payload, payload, payload}, handed)
	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		assert.Equal(t, payload, r.body, "attempt %d", i+1)
	}
}

func TestBodyWithoutGetBodyIsSentOnce(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 429, header: map[string]string{"Retry-After": "1"}}, step{status: 200})
	clock := newFakeClock()
	tr := New(testOptions(clock, srv.srv.Client().Transport))

	// io.MultiReader hides the concrete type, so NewRequest sets no GetBody.
	req, err := http.NewRequest(http.MethodPost, srv.srv.URL, io.MultiReader(strings.NewReader("once")))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, []seen{{method: http.MethodPost, body: "once"}}, srv.Requests())
}

func TestReadOnlyContextRetriesAPostAfterAServerError(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	tr := New(Options{Provider: "slack", Sleep: func(context.Context, time.Duration) error { return nil }})
	for _, tc := range []struct {
		name     string
		readOnly bool
		want     int64
	}{{"a plain POST is sent once", false, 1}, {"a POST marked read-only is repeated", true, 2}} {
		hits.Store(0)
		ctx := context.Background()
		if tc.readOnly {
			ctx = WithReadOnly(ctx)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("channel=C1"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if hits.Load() != tc.want {
			t.Fatalf("%s: %d requests, want %d", tc.name, hits.Load(), tc.want)
		}
	}
}
