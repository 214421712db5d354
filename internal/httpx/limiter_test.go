package httpx

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send makes one request through tr with the given method and limit key
// ("" for none) and fails the test on error.
func send(t *testing.T, tr *Transport, url, method, key string) {
	t.Helper()
	ctx := context.Background()
	if key != "" {
		ctx = WithLimitKey(ctx, key)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
}

func TestLimiterPaces(t *testing.T) {
	t.Parallel()
	type call struct{ method, key string }
	tests := []struct {
		name      string
		limits    []Limit
		calls     []call
		wantWaits []time.Duration
	}{
		{
			name:   "Slack posts to one channel go one per interval",
			limits: SlackLimits(time.Second),
			calls: []call{
				{http.MethodPost, SlackPostMessageKey("C1")},
				{http.MethodPost, SlackPostMessageKey("C1")},
				{http.MethodPost, SlackPostMessageKey("C1")},
			},
			wantWaits: []time.Duration{time.Second, time.Second},
		},
		{
			name:   "Slack posts to different channels do not wait for each other",
			limits: SlackLimits(time.Second),
			calls: []call{
				{http.MethodPost, SlackPostMessageKey("C1")},
				{http.MethodPost, SlackPostMessageKey("C2")},
				{http.MethodPost, SlackPostMessageKey("C3")},
			},
		},
		{
			name:   "Slack requests without a channel key are not paced",
			limits: SlackLimits(time.Second),
			calls:  []call{{http.MethodPost, ""}, {http.MethodPost, ""}},
		},
		{
			name: "a burst lets that many posts go back to back",
			limits: func() []Limit {
				l := SlackLimits(time.Second)
				l[0].Burst = 3
				return l
			}(),
			calls: []call{
				{http.MethodPost, SlackPostMessageKey("C1")},
				{http.MethodPost, SlackPostMessageKey("C1")},
				{http.MethodPost, SlackPostMessageKey("C1")},
				{http.MethodPost, SlackPostMessageKey("C1")},
			},
			wantWaits: []time.Duration{time.Second},
		},
		{
			name:   "GitHub writes are spaced across keys while reads are not",
			limits: GitHubLimits(2 * time.Second),
			calls: []call{
				{http.MethodPost, "github:issues:a/b"},
				{http.MethodGet, ""},
				{http.MethodGet, ""},
				{http.MethodPatch, "github:issues:c/d"},
				{http.MethodDelete, ""},
			},
			wantWaits: []time.Duration{2 * time.Second, 2 * time.Second},
		},
		{
			name:   "a zero GitHub write interval turns pacing off",
			limits: GitHubLimits(0),
			calls:  []call{{http.MethodPost, ""}, {http.MethodPost, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newScripted(t, step{status: 200})
			clock := newFakeClock()
			o := testOptions(clock, srv.srv.Client().Transport)
			o.Limits = tt.limits
			tr := New(o)
			for _, c := range tt.calls {
				send(t, tr, srv.srv.URL, c.method, c.key)
			}
			assert.Equal(t, tt.wantWaits, clock.Waits())
			assert.Len(t, srv.Requests(), len(tt.calls))
		})
	}
}

func TestLimiterWaitIsReportedAndCounted(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 200}, step{status: 429, header: map[string]string{"Retry-After": "20"}})
	clock := newFakeClock()
	o := testOptions(clock, srv.srv.Client().Transport)
	o.Limits = []Limit{{Every: 15 * time.Second}}
	o.MaxCallWait = 30 * time.Second
	tr := New(o)

	// The first call spends the token; the second waits 15s for it, then
	// gets a 429 asking for 20s more, which would pass the 30s call cap.
	send(t, tr, srv.srv.URL, http.MethodGet, "")
	ctx, events := recordEvents(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.srv.URL, nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, []Event{
		{Attempt: 1, Wait: 15 * time.Second, Reason: ReasonClientLimit},
		{Attempt: 1},
	}, events())
}

func TestLimiterWaitOverCapFailsUnsent(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 200})
	clock := newFakeClock()
	o := testOptions(clock, srv.srv.Client().Transport)
	o.Limits = []Limit{{Every: time.Minute}}
	o.MaxWait = 30 * time.Second
	tr := New(o)

	send(t, tr, srv.srv.URL, http.MethodPost, "")
	req, err := http.NewRequest(http.MethodPost, srv.srv.URL, nil)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, ErrWaitTooLong)
	assert.True(t, NotSent(err))
	var he *Error
	require.ErrorAs(t, err, &he)
	assert.Zero(t, he.Attempts)
	assert.Len(t, srv.Requests(), 1)

	// The refused call gave its token back: a minute on, one call goes
	// without waiting.
	clock.Advance(time.Minute)
	send(t, tr, srv.srv.URL, http.MethodPost, "")
	assert.Empty(t, clock.Waits())
}

func TestStripeLimitsStayUnderTheSandboxLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	set := newLimiterSet(StripeLimits())
	var sentAt []time.Time
	for range 200 {
		res := set.reserve(http.MethodGet, "stripe", clock.Now())
		require.NoError(t, clock.Sleep(context.Background(), res.delay))
		sentAt = append(sentAt, clock.Now())
	}
	for i, start := range sentAt {
		n := 0
		for _, at := range sentAt[i:] {
			if at.Sub(start) < time.Second {
				n++
			}
		}
		require.LessOrEqual(t, n, 25, "requests in the second from request %d", i)
	}
}

func TestLimiterDropsIdleBuckets(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	set := newLimiterSet(SlackLimits(time.Second))
	for i := range pruneAt + 100 {
		set.reserve(http.MethodPost, SlackPostMessageKey(fmt.Sprint("C", i)), clock.Now())
	}
	require.Greater(t, set.size(), pruneAt)
	clock.Advance(time.Minute)
	set.reserve(http.MethodPost, SlackPostMessageKey("new"), clock.Now())
	assert.Equal(t, 1, set.size())
}

func TestConcurrentCallsShareBuckets(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 200})
	// A frozen clock: every reservation happens at the same instant, so
	// the waits do not depend on how the goroutines interleave.
	var mu sync.Mutex
	var waits []time.Duration
	o := Options{
		Base:   srv.srv.Client().Transport,
		Limits: SlackLimits(time.Second),
		Now:    func() time.Time { return epoch },
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			return nil
		},
	}
	tr := New(o)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			send(t, tr, srv.srv.URL, http.MethodPost, SlackPostMessageKey(fmt.Sprint("C", i%2)))
		})
	}
	wg.Wait()
	assert.Len(t, srv.Requests(), 20)

	// Two channels, ten posts each: the nth post of a channel waits n-1
	// seconds, and the first does not wait.
	var want []time.Duration
	for n := 1; n < 10; n++ {
		want = append(want, time.Duration(n)*time.Second, time.Duration(n)*time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, want, waits)
}

func TestRequestsOfOneCallBudgetShareMaxCallWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		shared   bool
		wantLast int // status of the second request's answer
	}{
		{name: "with a call budget the second request cannot wait past what the first used", shared: true, wantLast: 429},
		{name: "without one each request has the whole MaxCallWait", shared: false, wantLast: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			retryAfter := map[string]string{"Retry-After": "20"}
			srv := newScripted(t, step{status: 429, header: retryAfter}, step{status: 200},
				step{status: 429, header: retryAfter}, step{status: 200})
			clock := newFakeClock()
			o := testOptions(clock, srv.srv.Client().Transport)
			o.MaxWait, o.MaxCallWait = 30*time.Second, 30*time.Second
			tr := New(o)
			ctx := context.Background()
			if tt.shared {
				ctx = WithCallBudget(ctx)
			}
			status := func() int {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.srv.URL, nil)
				require.NoError(t, err)
				resp, err := tr.RoundTrip(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				return resp.StatusCode
			}
			// Each request is asked to wait 20s once: 40s in all.
			require.Equal(t, 200, status())
			assert.Equal(t, tt.wantLast, status())
		})
	}
}
