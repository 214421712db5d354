package github_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

const repo = "acme/widgets"

func setup(t *testing.T, opts ...fakesaas.Option) (*fakesaas.Server, github.Client) {
	t.Helper()
	srv := fakesaas.New(opts...)
	t.Cleanup(srv.Close)
	c := github.New(github.Config{
		BaseURL:    srv.GitHubAPIURL(),
		Token:      config.NewSecret(fakesaas.GitHubToken),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	return srv, c
}

func TestCreateIssueSendsTheIssueWithTheMarkerLast(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	got, err := c.CreateIssue(t.Context(), github.Issue{
		Repo: repo, Title: "Login fails", Body: "Steps: ...", Labels: []string{"bug"}, Assignees: []string{"octo"}, Key: "key-1",
	})
	require.NoError(t, err)
	assert.Equal(t, github.Created{Number: 1, URL: "https://github.com/acme/widgets/issues/1"}, got)

	issues := srv.GitHubIssues(repo)
	require.Len(t, issues, 1)
	assert.Equal(t, "Login fails", issues[0].Title)
	assert.Equal(t, "Steps: ...\n\n"+github.Marker("key-1"), issues[0].Body)
	assert.Equal(t, []string{"bug"}, issues[0].Labels)
	assert.Equal(t, []string{"octo"}, issues[0].Assignees)

	_, err = c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "No body", Key: "key-2"})
	require.NoError(t, err)
	assert.Equal(t, github.Marker("key-2"), srv.GitHubIssues(repo)[1].Body, "no blank lines before a lone marker")
}

func TestCreateIssueLeavesTheCallersHTTPClientAlone(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	hc := &http.Client{}
	c := github.New(github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(fakesaas.GitHubToken), HTTPClient: hc})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t"})
	require.NoError(t, err)
	assert.Nil(t, hc.Transport, "the token wrapper goes on a copy")
}

func TestMarkerCannotBeBrokenByTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, key string }{
		{"a plain key", "a1b2c3"},
		{"a key that closes the comment", "x --> <script>"},
		{"a key spanning lines", "line1\nline2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := github.Marker(tt.key)
			assert.True(t, strings.HasPrefix(m, "<!-- saas-mcp:key="))
			assert.Equal(t, 1, strings.Count(m, "-->"), m)
			assert.NotContains(t, m, "\n")
			assert.NotEqual(t, github.Marker(tt.key+"x"), m)
		})
	}
}

func TestFindByKeyFindsTheIssueOnlyOnceItWasCreated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode fakesaas.Mode
	}{
		{"after GitHub created it and answered 500", fakesaas.CommitThenFail},
		{"after GitHub created it and dropped the connection", fakesaas.CommitThenClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			since := time.Now()
			_, found, err := c.FindByKey(t.Context(), repo, "k-lost", since)
			require.NoError(t, err)
			assert.False(t, found)

			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: tt.mode})
			_, err = c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t", Body: "b", Key: "k-lost"})
			require.True(t, provider.InDoubt(err), "%v", err)

			got, found, err := c.FindByKey(t.Context(), repo, "k-lost", since)
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, github.Created{Number: 1, URL: "https://github.com/acme/widgets/issues/1"}, got)
		})
	}
}

func TestFindByKeyIgnoresWhatItMustNotTrust(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, c := setup(t, fakesaas.WithClock(func() time.Time { return now }))
	marker := github.Marker("k")
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "a pull request", Body: marker, PullRequest: true})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "someone else's", Body: marker, Creator: "mallory"})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "quotes the marker", Body: "see " + marker + " above"})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/other", Title: "another repo", Body: marker})
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "too old", Body: marker,
		CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now})

	_, found, err := c.FindByKey(t.Context(), repo, "k", now.Add(-time.Hour))
	require.NoError(t, err)
	assert.False(t, found)

	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "ours", Body: "text\r\n\r\n" + marker + "\r\n"})
	got, found, err := c.FindByKey(t.Context(), repo, "k", now.Add(-time.Hour))
	require.NoError(t, err)
	require.True(t, found, "GitHub may turn newlines into CRLF and add a trailing one")
	assert.Equal(t, 5, got.Number, "numbers count per repository")
}

func TestFindByKeyPagesAndAsksForTheUserOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, c := setup(t, fakesaas.WithClock(func() time.Time { return now }))
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "target", Body: github.Marker("k")})
	for i := range 150 {
		srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: fmt.Sprint("newer ", i),
			Body: github.Marker(fmt.Sprint("other-", i)), CreatedAt: now.Add(time.Duration(i+1) * time.Second)})
	}
	for range 2 {
		got, found, err := c.FindByKey(t.Context(), repo, "k", now)
		require.NoError(t, err)
		require.True(t, found, "the target is on the second page")
		assert.Equal(t, 1, got.Number)
	}
	assert.Equal(t, 1, srv.Count("GET", "/user"), "the login is cached")
	assert.Equal(t, 4, srv.Count("GET", "/repos/"+repo+"/issues"))
}

func TestABadRepositoryOrMissingTokenFailsBeforeSending(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "no-slash", Title: "t"})
	require.ErrorContains(t, err, "owner/name")
	_, _, err = c.FindByKey(t.Context(), "a/b/c", "k", time.Now())
	require.ErrorContains(t, err, "owner/name")

	noToken := github.New(github.Config{BaseURL: srv.GitHubAPIURL()})
	_, err = noToken.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t"})
	require.ErrorContains(t, err, "no token")
	assert.Zero(t, srv.Count("", "/"))
}

func TestFindByKeyWorksWithAGitHubAppInstallationToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     string
		wantFound bool
		wantErr   string
	}{
		{name: "an installation token, which has no /user, finds its issue by the marker alone",
			token: "ghs_installation0000token", wantFound: true},
		{name: "a personal token still needs its user", token: "ghp_personal0000token",
			wantErr: "get the token's user: HTTP 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New(fakesaas.WithGitHubToken(tt.token, "acme-app[bot]"))
			t.Cleanup(srv.Close)
			if !strings.HasPrefix(tt.token, "ghs_") {
				srv.Inject(fakesaas.Fault{Path: "/user", Status: 403})
			}
			c := github.New(github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(tt.token),
				HTTPClient: &http.Client{Timeout: 5 * time.Second}})
			since := time.Now()
			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenClose})
			_, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t", Key: "k-app"})
			require.True(t, provider.InDoubt(err), "%v", err)

			got, found, err := c.FindByKey(t.Context(), repo, "k-app", since)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantFound, found)
			assert.Equal(t, 1, got.Number)
		})
	}
}
