package github_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// Of several matches the oldest is taken (the effect comes before any copy
// of its marker), and so of the matches by a creator that cannot be ruled
// out: the refusal named the first one listed, the newest, a later copy
// (eve's #2), rather than the issue that may be the first attempt's
// (mallory's #1), sending whoever checks to the wrong issue (found in
// review).
func TestAnUnknownFirstSendersRefusalNamesTheOldestOtherMatchNotTheNewest(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New(fakesaas.WithGitHubToken("ghp_me", "me"))
	t.Cleanup(srv.Close)
	c := github.New(github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret("ghp_me"),
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	since := time.Now()
	for _, who := range []string{"mallory", "eve"} {
		srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: repo, Title: "t", Body: github.Marker("k", time.Time{}), Creator: who})
	}
	_, _, err := c.FindByKeyFrom(t.Context(), repo, "k", since, github.Sender{Unknown: true})
	require.ErrorIs(t, err, github.ErrFirstSenderUnknown)
	assert.Contains(t, err.Error(), "https://github.com/acme/widgets/issues/1, opened by mallory")
}
