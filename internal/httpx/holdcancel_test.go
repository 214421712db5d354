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

// pace reserves a held write's token for the hold's end (until); it gave
// it back, when the hold refused the call, at now: x/time/rate's CancelAt
// then rewound the bucket's clock from until to now while keeping the
// tokens it had accrued up to until, so the refused call left the bucket
// fuller than it was, and the next write left sooner than the write
// interval after the last one sent (found in review). It gives it back at
// until now.
func TestAWriteRefusedDuringAGitHubHoldDoesNotLetTheNextWriteLeaveBeforeTheWriteInterval(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var mu sync.Mutex
	var posts []time.Time
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet { // a read meets a secondary limit: hold for 1s
			return &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}},
				Body: io.NopCloser(strings.NewReader(`{"message":"You have exceeded a secondary rate limit"}`)), Request: r}, nil
		}
		mu.Lock()
		posts = append(posts, clock.Now())
		mu.Unlock()
		return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
	})
	o := testOptions(clock, base)
	o.Provider = "github"
	o.MaxAttempts = 1
	o.MaxCallWait = 2500 * time.Millisecond
	o.Limits = GitHubLimits(3 * time.Second)
	tr := New(o)
	do := func(method string) error {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"title":"t"}`)
		}
		req, err := http.NewRequest(method, "http://api.invalid/repos/acme/app/issues", body)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		return err
	}

	require.NoError(t, do(http.MethodPost)) // the write at epoch
	_ = do(http.MethodGet)                  // 429 Retry-After 1: held until epoch+1s
	// Held 1s, then 2s more for the write interval: 3s > 2.5s, refused.
	require.ErrorIs(t, do(http.MethodPost), ErrWaitTooLong)
	// The same write again must wait as long, and be refused the same way;
	// it may never leave before epoch+3s.
	err := do(http.MethodPost)

	mu.Lock()
	defer mu.Unlock()
	if err == nil {
		require.Len(t, posts, 2)
		assert.GreaterOrEqual(t, posts[1].Sub(posts[0]), 3*time.Second,
			"two writes left %s apart, GitHubLimits asks for 3s: the refused write's token was given back at now, not at the hold's end", posts[1].Sub(posts[0]))
	}
}
