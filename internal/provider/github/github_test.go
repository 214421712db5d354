package github_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

func setup(t *testing.T, opts ...fakesaas.Option) (*fakesaas.Server, github.SenderClient) {
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
		Claimed: time.Unix(1796443949, 999_999_999),
	})
	require.NoError(t, err)
	assert.Equal(t, github.Created{Number: 1, URL: "https://github.com/acme/widgets/issues/1"}, got)

	issues := srv.GitHubIssues(repo)
	require.Len(t, issues, 1)
	assert.Equal(t, "Login fails", issues[0].Title)
	assert.Equal(t, "Steps: ...\n\n<!-- saas-mcp:claim=1796443949 --><!-- saas-mcp:key=key-1 -->", issues[0].Body,
		"the claim in whole seconds, then the key")
	assert.Equal(t, []string{"bug"}, issues[0].Labels)
	assert.Equal(t, []string{"octo"}, issues[0].Assignees)

	_, err = c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "No body", Key: "key-2"})
	require.NoError(t, err)
	assert.Equal(t, "<!-- saas-mcp:key=key-2 -->", srv.GitHubIssues(repo)[1].Body, "no blank lines before a lone marker; no claim when none is known")
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
			m := github.Marker(tt.key, time.Time{})
			assert.True(t, strings.HasPrefix(m, "<!-- saas-mcp:key="))
			assert.Equal(t, 1, strings.Count(m, "-->"), m)
			assert.NotContains(t, m, "\n")
			assert.NotEqual(t, github.Marker(tt.key+"x", time.Time{}), m)

			claimed := github.Marker(tt.key, time.Unix(1796443949, 0))
			assert.True(t, strings.HasSuffix(claimed, m), "the key's comment ends the marker, as before claims were marked: %s", claimed)
			assert.Equal(t, 2, strings.Count(claimed, "-->"), claimed)
			assert.NotContains(t, claimed, "\n")
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
	marker := github.Marker("k", time.Time{})
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
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "target", Body: github.Marker("k", time.Time{})})
	for i := range 150 {
		srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: fmt.Sprint("newer ", i),
			Body: github.Marker(fmt.Sprint("other-", i), time.Time{}), CreatedAt: now.Add(time.Duration(i+1) * time.Second)})
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

// TestFindByKeyFromLooksAmongTheIssuesOfTheUserTheFirstAttemptWasSentAs: two
// processes sharing a DATA_DIR may hold different tokens (a developer's,
// a bot's). The retry must look among the issues of the user the first
// attempt was sent as, whatever its own token, and still take no one
// else's copy of the marker.
func TestFindByKeyFromLooksAmongTheIssuesOfTheUserTheFirstAttemptWasSentAs(t *testing.T) {
	t.Parallel()
	const devToken, botToken = "ghp_dev0000token", "ghp_bot0000token"
	srv := fakesaas.New(fakesaas.WithGitHubToken(devToken, "dev"), fakesaas.WithGitHubToken(botToken, "ci-bot"))
	t.Cleanup(srv.Close)
	client := func(token string) github.SenderClient {
		return github.New(github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(token),
			HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	}
	dev, bot := client(devToken), client(botToken)
	since := time.Now()
	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "a copy", Body: github.Marker("k", time.Time{}), Creator: "mallory"})

	first, err := dev.Sender(t.Context())
	require.NoError(t, err)
	assert.Equal(t, github.Sender{Login: "dev"}, first)
	srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenClose})
	_, err = dev.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t", Key: "k"})
	require.True(t, provider.InDoubt(err), "%v", err)

	got, found, err := bot.FindByKeyFrom(t.Context(), repo, "k", since, github.SenderFromVia(first.Via()))
	require.NoError(t, err)
	require.True(t, found, "the bot's retry finds the developer's issue")
	assert.Equal(t, 2, got.Number, "not mallory's copy")

	_, found, err = bot.FindByKey(t.Context(), repo, "k", since)
	require.NoError(t, err)
	assert.False(t, found, "a claim that recorded no sender is looked for among this token's issues, as before")

	_, found, err = dev.FindByKeyFrom(t.Context(), repo, "k", since, github.Sender{Login: "ci-bot"})
	require.NoError(t, err)
	assert.False(t, found, "the developer's issue is not the bot's")
}

// TestFindByKeyFromAnUnknownFirstSenderNeverOpensASecondIssue: when who the
// token is was not known as the first attempt was claimed, the retry looks
// at every creator's issues. Its own user's match is taken, none lets it
// send, and another user's match (the first attempt's, sent with another
// token, or someone's copy) cannot be told apart: it is refused.
func TestFindByKeyFromAnUnknownFirstSenderNeverOpensASecondIssue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     string // the retrying client's; its user is "me"
		creators  []string
		wantFound int // the number of the issue found; 0 none
		wantErr   error
	}{
		{name: "nothing carries the marker", token: "ghp_me", wantFound: 0},
		{name: "its own user's issue is taken", token: "ghp_me", creators: []string{"mallory", "me"}, wantFound: 2},
		{name: "another user's issue is refused", token: "ghp_me", creators: []string{"mallory"}, wantErr: github.ErrFirstSenderUnknown},
		{name: "an installation token takes any, as for its own", token: "ghs_me", creators: []string{"acme-app[bot]"}, wantFound: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New(fakesaas.WithGitHubToken(tt.token, "me"))
			t.Cleanup(srv.Close)
			c := github.New(github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(tt.token),
				HTTPClient: &http.Client{Timeout: 5 * time.Second}})
			since := time.Now()
			for _, who := range tt.creators {
				srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "t", Body: github.Marker("k", time.Time{}), Creator: who})
			}
			got, found, err := c.FindByKeyFrom(t.Context(), repo, "k", since, github.SenderFromVia(github.Sender{Unknown: true}.Via()))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), "https://github.com/acme/widgets/issues/1, opened by mallory")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantFound != 0, found)
			assert.Equal(t, tt.wantFound, got.Number)
		})
	}
}

func TestSenderIsReadBackFromTheClaimAsItWasWritten(t *testing.T) {
	t.Parallel()
	for _, s := range []github.Sender{{}, {Login: "octo-cat"}, {Login: "acme-app[bot]"}, {App: true}, {Unknown: true}} {
		assert.Equal(t, s, github.SenderFromVia(s.Via()), "%+v as %q", s, s.Via())
	}
	assert.Equal(t, "github:octo-cat", github.Sender{Login: "octo-cat"}.Via())
	for _, via := range []string{"github:", "api", "github-app2"} {
		assert.Equal(t, github.Sender{Unknown: true}, github.SenderFromVia(via), "%q, written by another release, takes no other creator's issue", via)
	}
}

// TestSenderAsksGitHubOnceAndHoldsNoCallerPastItsDeadline: concurrent
// callers share one GET /user, and a caller waiting on a slow one gives up
// at its own deadline (createTicket's claim waits only briefly for it).
func TestSenderAsksGitHubOnceAndHoldsNoCallerPastItsDeadline(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.Inject(fakesaas.Fault{Path: "/user", Times: 1, Delay: time.Second}) // slow, then answered as usual

	var wg sync.WaitGroup
	wg.Go(func() {
		got, err := c.Sender(t.Context())
		assert.NoError(t, err)
		assert.Equal(t, github.Sender{Login: fakesaas.GitHubLogin}, got)
	})
	require.Eventually(t, func() bool { return srv.Count("GET", "/user") == 1 }, 5*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Sender(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the waiter gives up at its deadline")
	assert.Less(t, time.Since(start), 700*time.Millisecond)

	for range 8 {
		wg.Go(func() {
			got, err := c.Sender(t.Context())
			assert.NoError(t, err)
			assert.Equal(t, github.Sender{Login: fakesaas.GitHubLogin}, got)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, srv.Count("GET", "/user"), "every caller shares the one request, then its answer")
}

// TestKnownSenderSendsNothingAndIsUnknownUntilGitHubAnswered: a claim is
// written before anything may leave the process, so its sender is only
// what the client already knows.
func TestKnownSenderSendsNothingAndIsUnknownUntilGitHubAnswered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, token string
		want        github.Sender
	}{
		{"a personal token", "ghp_personal0000token", github.Sender{Login: "octo"}},
		{"an installation token", "ghs_installation0000token", github.Sender{App: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New(fakesaas.WithGitHubToken(tt.token, "octo"))
			t.Cleanup(srv.Close)
			c := github.New(github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(tt.token),
				HTTPClient: &http.Client{Timeout: 5 * time.Second}})
			assert.Equal(t, github.Sender{Unknown: true}, c.KnownSender())
			assert.Zero(t, srv.Count("", "/"), "nothing was sent")

			srv.Inject(fakesaas.Fault{Path: "/user", Times: 1, Status: http.StatusBadGateway})
			_, err := c.Sender(t.Context())
			require.Error(t, err)
			assert.Equal(t, github.Sender{Unknown: true}, c.KnownSender(), "a failure is not kept")

			got, err := c.Sender(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want, c.KnownSender())
		})
	}
}
