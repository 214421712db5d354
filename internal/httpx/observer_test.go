package httpx

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObserverSeesEveryAttemptAndWait(t *testing.T) {
	t.Parallel()
	srv := newScripted(t,
		step{status: 429, header: map[string]string{"Retry-After": "2"}},
		step{status: 503},
		step{status: 200},
	)
	clock := newFakeClock()
	o := testOptions(clock, srv.srv.Client().Transport)
	tr := New(o)

	ctx, events := recordEvents(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.srv.URL, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	backoff2 := clock.Waits()[1] // the jittered wait, checked on its own below
	assert.Equal(t, []Event{
		{Attempt: 1},
		{Attempt: 2, Wait: 2 * time.Second, Reason: ReasonRetryAfter, Status: 429},
		{Attempt: 2, Reason: ReasonRetryAfter, Status: 429},
		{Attempt: 3, Wait: backoff2, Reason: ReasonServerError, Status: 503},
		{Attempt: 3, Reason: ReasonServerError, Status: 503},
	}, events())
	assert.Greater(t, backoff2, time.Duration(0))
}

func TestObserversChain(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 200})
	var mu sync.Mutex
	var order []string
	ctx := WithObserver(context.Background(), func(Event) { mu.Lock(); order = append(order, "audit"); mu.Unlock() })
	ctx = WithObserver(ctx, func(Event) { mu.Lock(); order = append(order, "progress"); mu.Unlock() })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.srv.URL, nil)
	require.NoError(t, err)
	resp, err := New(Options{Base: srv.srv.Client().Transport}).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"audit", "progress"}, order)
}

func TestRetriedResponsesAreDrainedAndClosed(t *testing.T) {
	t.Parallel()
	srv := newScripted(t,
		step{status: 503, body: strings.Repeat("a", 5000)},
		step{status: 429, body: "slow"},
		step{status: 200, body: "ok"},
	)
	live := srv.srv.Client().Transport
	var mu sync.Mutex
	var bodies []*closeTracker
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := live.RoundTrip(r)
		if err == nil {
			tracked := &closeTracker{Reader: resp.Body}
			resp.Body = tracked
			mu.Lock()
			bodies = append(bodies, tracked)
			mu.Unlock()
		}
		return resp, err
	})
	tr := New(testOptions(newFakeClock(), base))
	req, err := http.NewRequest(http.MethodGet, srv.srv.URL, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)

	require.Len(t, bodies, 3)
	for i, b := range bodies[:2] {
		assert.True(t, b.eof.Load(), "retried body %d read to the end", i+1)
		assert.True(t, b.closed.Load(), "retried body %d closed", i+1)
	}
	assert.False(t, bodies[2].closed.Load(), "the returned body is the caller's to close")
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(got))
	require.NoError(t, resp.Body.Close())
}

func TestBackoffIsFullJitter(t *testing.T) {
	t.Parallel()
	const base, maxWait = 100 * time.Millisecond, 5 * time.Second
	ceiling := func(n int) time.Duration {
		c := base
		for range n - 1 {
			c *= 2
		}
		return min(c, maxWait)
	}
	t.Run("each draw scales the ceiling of its retry", func(t *testing.T) {
		t.Parallel()
		for n := 1; n <= 10; n++ {
			for _, f := range []float64{0, 0.25, 0.5, 0.999999} {
				got := backoff(n, base, maxWait, func() float64 { return f })
				assert.Equal(t, time.Duration(f*float64(ceiling(n))), got, "retry %d draw %v", n, f)
			}
		}
	})
	t.Run("draws spread over the whole range below the ceiling", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(1, 2))
		for n := 1; n <= 8; n++ {
			low := 0
			for range 1000 {
				got := backoff(n, base, maxWait, rng.Float64)
				require.GreaterOrEqual(t, got, time.Duration(0))
				require.Less(t, got, ceiling(n))
				if got < ceiling(n)/4 {
					low++
				}
			}
			// Equal jitter would never go below half the ceiling.
			assert.Greater(t, low, 150, "retry %d: about a quarter of draws fall in the lowest quarter", n)
		}
	})
	t.Run("a broken random source cannot pass the cap", func(t *testing.T) {
		t.Parallel()
		for _, f := range []float64{-1, 1, 7} {
			got := backoff(3, base, maxWait, func() float64 { return f })
			assert.GreaterOrEqual(t, got, time.Duration(0))
			assert.LessOrEqual(t, got, ceiling(3))
		}
	})
	t.Run("a huge retry count stays at MaxWait", func(t *testing.T) {
		t.Parallel()
		got := backoff(1000, base, maxWait, func() float64 { return 0.999999 })
		assert.Less(t, got, maxWait)
		assert.Greater(t, got, maxWait*9/10)
	})
}

func TestSleepContext(t *testing.T) {
	t.Parallel()
	require.NoError(t, sleepContext(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	require.ErrorIs(t, sleepContext(ctx, time.Hour), context.Canceled)
	assert.Less(t, time.Since(start), time.Second)
	require.ErrorIs(t, sleepContext(ctx, 0), context.Canceled)
}
