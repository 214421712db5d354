package github_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// TestAGitHubSecondaryLimit429WithoutRetryAfterIsNotRetriedWithinAMinute
// (found in review): GitHub answers a secondary rate limit with 403 or 429.
// Without retry-after (and with x-ratelimit-remaining above 0) its
// documented rule is "wait at least one minute before retrying"; retrying
// sooner prolongs the limit and can get the integration banned. A 429 was
// retried at once with sub-second backoff, up to HTTP_MAX_ATTEMPTS times.
// Now the wait is a minute, which the default HTTP_MAX_WAIT (30 s) refuses,
// so the 429 comes back at once, not in doubt.
func TestAGitHubSecondaryLimit429WithoutRetryAfterIsNotRetriedWithinAMinute(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Limit", "5000")
		w.Header().Set("X-Ratelimit-Remaining", "4990")
		w.Header().Set("X-Ratelimit-Reset", "4102444800")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",` +
			`"documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`))
	}))
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var waits []time.Duration
	tr := httpx.New(httpx.Options{Provider: "github", Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}})
	c := github.New(github.Config{BaseURL: srv.URL + "/", Token: config.NewSecret("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
		HTTPClient: &http.Client{Transport: tr}})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k"})
	require.Error(t, err)
	assert.False(t, provider.InDoubt(err), "%v", err)
	mu.Lock()
	defer mu.Unlock()
	for _, w := range waits {
		if w < time.Minute {
			t.Errorf("a retry after a secondary limit must wait at least a minute; waits %v", waits)
			break
		}
	}
	assert.Equal(t, int32(1), hits.Load(), "POSTs sent while GitHub's secondary limit lasted (waits %v)", waits)
}

// GitHub's docs: "If you continue to make requests while you are rate
// limited, this may result in the banning of your integration." A POST
// refused with a secondary limit whose retry-after is beyond HTTP_MAX_WAIT
// fails the call at once (right), but the next call, sent a moment later
// (the agent retries, the key having been released), must not go out
// before the named time either (found in review: it did; the transport now
// holds every request until then).
func TestACallAfterASecondaryLimitIsNotSentBeforeTheRetryAfterGitHubNamed(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "120")
		w.Header().Set("X-Ratelimit-Remaining", "4990")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",` +
			`"documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`))
	}))
	t.Cleanup(srv.Close)
	tr := httpx.New(httpx.Options{Provider: "github", Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
	c := github.New(github.Config{BaseURL: srv.URL + "/", Token: config.NewSecret("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
		HTTPClient: &http.Client{Transport: tr}})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k1"})
	require.Error(t, err)
	require.False(t, provider.InDoubt(err), "%v", err)
	require.Equal(t, int32(1), posts.Load())

	_, err = c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k1"})
	require.Error(t, err)
	assert.Equal(t, int32(1), posts.Load(), "a second POST went out while GitHub's secondary limit (retry-after 120 s) lasted")
}
