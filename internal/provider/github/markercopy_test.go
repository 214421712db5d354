package github_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// The marker counts anywhere in the body. A later issue by the same
// user that quotes the first issue's source (a "duplicate of" or follow-up
// ticket, itself opened by saas-mcp under another key, so its own marker
// ends it) carries this call's whole marker mid-body. Issues are listed
// newest first, and the retry of the call in doubt took the quoting issue
// for its own (found in review): a body that ends with another key's
// marker is not this call's, and of several matches the oldest is taken.
func TestARetryInDoubtReturnsTheIssueItOpenedNotALaterIssueThatQuotesIt(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	since := time.Now()
	srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenClose})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "Login fails", Body: "Steps", Key: "k-orig", Claimed: since})
	require.True(t, provider.InDoubt(err), "%v", err)
	issues := srv.GitHubIssues(repo)
	require.Len(t, issues, 1)
	orig := issues[0]

	// A follow-up ticket quoting the original's source, sent under its own key.
	later := since.Add(3 * time.Second)
	follow, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "Login fails on Safari too",
		Body: "Follow-up of #1, whose report was:\n\n" + orig.Body + "\n\nSame on Safari.", Key: "k-follow", Claimed: later})
	require.NoError(t, err)
	require.NotEqual(t, orig.Number, follow.Number)

	got, found, err := c.FindByKey(t.Context(), repo, "k-orig", since)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, orig.Number, got.Number,
		"the retry took issue #%d, which only quotes this call's marker, for the issue #%d it opened", got.Number, orig.Number)
}
