package github_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// TestAPermission403ThatSpendsTheLastRateLimitUnitIsNotRetried (found in
// review): GitHub reports x-ratelimit-remaining after counting the request it
// answers, so the request that spends the window's last unit carries
// "x-ratelimit-remaining: 0" whatever its outcome. When that request is a
// permission error (403 "Resource not accessible by personal access
// token"), no retry can fix it; the transport took it for a primary rate
// limit, waited until the reset and sent the POST again. Now only a body
// that says "rate limit" (or says nothing) makes such a 403 a rate limit.
func TestAPermission403ThatSpendsTheLastRateLimitUnitIsNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		message string
	}{
		{"fine-grained token without Issues: write", "Resource not accessible by personal access token"},
		{"App installation without the permission", "Resource not accessible by integration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var posts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The first answer spends the window's last unit; after the
				// reset a new window starts, and the 403 stays a 403.
				remaining := "4999"
				if posts.Add(1) == 1 {
					remaining = "0"
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Ratelimit-Limit", "5000")
				w.Header().Set("X-Ratelimit-Remaining", remaining)
				w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(time.Now().Add(10*time.Second).Unix(), 10))
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"message":"` + tt.message + `","documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"403"}`))
			}))
			t.Cleanup(srv.Close)
			var mu sync.Mutex
			var waits []time.Duration
			tr := httpx.New(httpx.Options{Provider: "github", Sleep: func(_ context.Context, d time.Duration) error {
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
			assert.Empty(t, waits, "a permission error was waited on as if it were a rate limit")
			assert.Equal(t, int32(1), posts.Load(), "a 403 permission error was sent again (waits %v)", waits)
		})
	}
}
