package github_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// A 201 whose body names no issue (a proxy that swallowed the body, an empty
// or truncated answer) means GitHub created something we cannot name: the
// call must be in doubt so the retry reconciles. It was taken for a success
// with issue 0 (found in review).
func TestA201ThatNamesNoIssueLeavesTheCallInDoubtRatherThanReportingIssueZero(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}`, ``, `{"message":"ok"}`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenFail,
				Status: http.StatusCreated, Body: body + " "})
			got, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t", Key: "k-201"})
			require.Len(t, srv.GitHubIssues(repo), 1, "GitHub created the issue")
			require.Error(t, err, "a 201 naming no issue was taken for success: %+v", got)
			assert.True(t, provider.InDoubt(err), "%v", err)
		})
	}
}

// The README disclaims only a marker that was removed. A human (or a bot)
// who appends a note to the issue after saas-mcp opened it leaves the marker
// in the body; a retry in doubt must still find the issue instead of
// opening a second one. Only a marker that ended the body was found (found
// in review).
func TestFindByKeyFindsTheIssueAfterSomeoneAppendedToItsBody(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	since := time.Now()
	srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenClose})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t", Body: "Steps", Key: "k-edit", Claimed: since})
	require.True(t, provider.InDoubt(err), "%v", err)
	issues := srv.GitHubIssues(repo)
	require.Len(t, issues, 1)

	// Simulate the edit: the same issue, body with a note appended (the fake
	// has no PATCH, so reseed it as the only issue of another repository).
	const edited = "acme/edited"
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: edited, Title: "t", Body: issues[0].Body + "\r\n\r\nUpdate: also on Safari.",
		CreatedAt: issues[0].CreatedAt})
	_, found, err := c.FindByKey(t.Context(), edited, "k-edit", since)
	require.NoError(t, err)
	assert.True(t, found, "the issue still carries this call's marker; a retry would open a second issue")
}

// "acme/.." matches the schema's repo pattern ([A-Za-z0-9._-]{1,100} after
// the slash). go-github refuses to build the request ("path must not contain
// '..'"), so nothing leaves the process; the call must fail for certain. It
// left its key in doubt ("the request may have taken effect"), which made
// every retry reconcile (and fail the same way) until the key expired
// (found in review).
func TestARepoNamedDotDotIsRefusedForCertainWithNothingSent(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/..", Title: "t", Key: "k-dots"})
	require.Error(t, err)
	assert.Zero(t, srv.Count("POST", "/"), "nothing was sent")
	assert.False(t, provider.InDoubt(err), "a request that was never built is reported in doubt: %v", err)
}

// GitHub answers 404 both for a repository that does not exist and for one
// the token cannot see (a private repository, a fine-grained token not
// granted it). The error said only "HTTP 404: Not Found", which names
// neither (found in review); the agent needs to know to check the name or
// the token's access.
func TestA404FromCreateIssueSaysTheRepositoryIsMissingOrNotVisibleToTheToken(t *testing.T) {
	t.Parallel()
	_, c := setup(t, fakesaas.WithGitHubRepos("acme/widgets"))
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/secret", Title: "t", Key: "k-404"})
	require.Error(t, err)
	assert.False(t, provider.InDoubt(err))
	assert.Regexp(t, `(?i)(not found|does not exist).*(token|access|permission)|(token|access|permission).*(not found|does not exist)`, err.Error())
}

// The request that spends the window's last unit carries
// x-ratelimit-remaining 0 whatever its outcome (see
// TestAPermission403ThatSpendsTheLastRateLimitUnitIsNotRetried): the
// transport returns such a permission 403 at once, but go-github turns any
// 403 with remaining 0 into a RateLimitError, and classify appended "the
// limit resets at ...", telling the agent to wait for a reset that fixes
// nothing (found in review).
func TestAPermission403OnTheWindowsLastUnitIsNotReportedAsARateLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Limit", "5000")
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Reset", "4102444800")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"403"}`))
	}))
	t.Cleanup(srv.Close)
	tr := httpx.New(httpx.Options{Provider: "github", Sleep: func(context.Context, time.Duration) error { return nil }})
	c := github.New(github.Config{BaseURL: srv.URL + "/", Token: config.NewSecret("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
		HTTPClient: &http.Client{Transport: tr}})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Resource not accessible by personal access token")
	assert.NotContains(t, err.Error(), "limit resets", "a permission error is presented as a rate limit")
}

// GitHub's 422 lists some errors as plain strings ("errors":["Could not
// resolve to a User with the login of 'ghost'."]); go-github keeps them as
// an Error with only Message. details rendered them with an empty
// resource.field, leaving "Validation Failed: : Could not ..." (found in
// review).
func TestA422WithPlainStringErrorsReadsCleanly(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"message":"Validation Failed","errors":["Could not resolve to a User with the login of 'ghost'."],` +
			`"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"422"}`))
	}))
	t.Cleanup(srv.Close)
	c := github.New(github.Config{BaseURL: srv.URL + "/", Token: config.NewSecret("ghp_abcdefghijklmnopqrstuvwxyz0123456789")})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Assignees: []string{"ghost"}, Key: "k"})
	require.Error(t, err)
	assert.False(t, provider.InDoubt(err))
	assert.Contains(t, err.Error(), "Could not resolve to a User with the login of 'ghost'")
	assert.NotContains(t, err.Error(), ": :", "an empty resource.field is rendered")
}
