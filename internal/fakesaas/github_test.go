package fakesaas_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

func TestGitHubCreateIssueAnswersLikeGitHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		token      string
		path       string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{"a valid issue is created", fakesaas.GitHubToken, "/repos/acme/widgets/issues",
			`{"title":"Bug","body":"b","labels":["bug"],"assignees":["octo"]}`, 201, ""},
		{"a wrong token is 401 bad credentials", "ghp_wrong", "/repos/acme/widgets/issues", `{"title":"Bug"}`, 401, "Bad credentials"},
		{"an unknown repository is 404", fakesaas.GitHubToken, "/repos/acme/nope/issues", `{"title":"Bug"}`, 404, "Not Found"},
		{"a missing title is 422 with errors", fakesaas.GitHubToken, "/repos/acme/widgets/issues", `{"body":"b"}`, 422, "Validation Failed"},
		{"a body that is not JSON is 400", fakesaas.GitHubToken, "/repos/acme/widgets/issues", `{`, 400, "Problems parsing JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, fakesaas.WithGitHubRepos("acme/widgets"))
			status, h, body := mustDo(t, githubCall(srv, "POST", tt.path, tt.token, tt.body))
			require.Equal(t, tt.wantStatus, status, string(body))
			got := decode(t, body)
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, got["message"])
				if status == 422 {
					assert.NotEmpty(t, got["errors"])
				}
				assert.Empty(t, srv.GitHubIssues(""))
				return
			}
			issues := srv.GitHubIssues("acme/widgets")
			require.Len(t, issues, 1)
			assert.EqualValues(t, 1, got["number"])
			assert.Equal(t, "https://github.com/acme/widgets/issues/1", got["html_url"])
			assert.Equal(t, srv.URL+"/repos/acme/widgets/issues/1", h.Get("Location"))
			assert.Equal(t, "open", got["state"])
			assert.Equal(t, fakesaas.GitHubLogin, got["user"].(map[string]any)["login"])
			assert.Equal(t, "bug", got["labels"].([]any)[0].(map[string]any)["name"])
			assert.Equal(t, "octo", got["assignees"].([]any)[0].(map[string]any)["login"])
			assert.EqualValues(t, issues[0].ID, got["id"])
			assert.Equal(t, "b", issues[0].Body)
		})
	}
}

func TestGitHubListIssuesFiltersByCreatorAndSinceAndPages(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := setup(t, fakesaas.WithClock(func() time.Time { return now }))
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/w", Title: "old", CreatedAt: now.Add(-time.Hour)})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/w", Title: "someone else's", Creator: "mallory"})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/w", Title: "closed", State: "closed", CreatedAt: now.Add(time.Second)})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/w", Title: "pr", PullRequest: true, CreatedAt: now.Add(2 * time.Second)})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/w", Title: "open", CreatedAt: now.Add(3 * time.Second)})

	list := func(query string) ([]string, string) {
		status, h, body := mustDo(t, githubCall(srv, "GET", "/repos/acme/w/issues?"+query, fakesaas.GitHubToken, ""))
		require.Equal(t, http.StatusOK, status, string(body))
		var titles []string
		for _, i := range decodeList(t, body) {
			titles = append(titles, i["title"].(string))
		}
		return titles, h.Get("Link")
	}
	since := now.Add(-time.Minute).Format(time.RFC3339)
	got, link := list("creator=" + fakesaas.GitHubLogin + "&state=all&since=" + since + "&per_page=2")
	assert.Equal(t, []string{"open", "pr"}, got, "newest first, this creator, updated since")
	require.Contains(t, link, `rel="next"`)
	next := strings.TrimPrefix(strings.Split(link, ">")[0], "<")
	assert.Contains(t, next, "page=2")

	got, link = list("creator=" + fakesaas.GitHubLogin + "&state=all&since=" + since + "&per_page=2&page=2")
	assert.Equal(t, []string{"closed"}, got)
	assert.NotContains(t, link, `rel="next"`)

	got, _ = list("")
	assert.Equal(t, []string{"open", "pr", "someone else's", "old"}, got, "state defaults to open")
}

func TestGitHubUserReturnsTheTokensLogin(t *testing.T) {
	t.Parallel()
	srv := setup(t, fakesaas.WithGitHubToken("ghp_other", "other-bot"))
	status, _, body := mustDo(t, githubCall(srv, "GET", "/user", "ghp_other", ""))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "other-bot", decode(t, body)["login"])

	status, _, _ = mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))
	assert.Equal(t, http.StatusUnauthorized, status, "naming a token replaces the default one")

	status, _, body = mustDo(t, call{method: "GET", url: srv.GitHubAPIURL() + "user"})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Requires authentication", decode(t, body)["message"])
}

func decodeList(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return out
}

func TestGitHubPathPrefixServesTheSameEndpoints(t *testing.T) {
	t.Parallel()
	srv := setup(t, fakesaas.WithGitHubPathPrefix("/api/v3"))
	require.Equal(t, srv.URL+"/api/v3/", srv.GitHubAPIURL())

	status, h, body := mustDo(t, githubCall(srv, "POST", "/repos/acme/widgets/issues", fakesaas.GitHubToken, `{"title":"Bug"}`))
	require.Equal(t, 201, status, string(body))
	assert.Equal(t, srv.URL+"/api/v3/repos/acme/widgets/issues/1", h.Get("Location"))
	require.Len(t, srv.GitHubIssues("acme/widgets"), 1)

	status, _, body = mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))
	require.Equal(t, 200, status, string(body))
	assert.Equal(t, fakesaas.GitHubLogin, decode(t, body)["login"])

	// Without the prefix the endpoints still answer, and requests are
	// recorded with the prefix stripped either way.
	status, h, body = mustDo(t, call{method: "POST", url: srv.URL + "/repos/acme/widgets/issues",
		header: map[string]string{"Authorization": "Bearer " + fakesaas.GitHubToken}, body: `{"title":"Again"}`})
	require.Equal(t, 201, status, string(body))
	assert.Equal(t, srv.URL+"/repos/acme/widgets/issues/2", h.Get("Location"))
	for _, r := range srv.Requests() {
		assert.False(t, strings.HasPrefix(r.Path, "/api/v3"), r.Path)
	}

	// A path that only starts with the prefix's letters is not stripped.
	status, _, _ = mustDo(t, call{method: "GET", url: srv.URL + "/api/v3x/user",
		header: map[string]string{"Authorization": "Bearer " + fakesaas.GitHubToken}})
	assert.Equal(t, 404, status)
}
