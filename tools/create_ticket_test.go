package tools

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

func createTicketWith(t *testing.T, srv *fakesaas.Server, token string) Definition {
	t.Helper()
	def, err := CreateTicket(Deps{GitHub: github.New(github.Config{
		BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(token), HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})})
	require.NoError(t, err)
	return def
}

// claimed is a call as the idempotency middleware hands it to the tool:
// FirstVia is the tool's Via at claim time.
func claimed(def Definition, args map[string]any, id string) *chain.Call {
	c := chain.NewCall(def.Chain, args, "t", "sandbox", id)
	c.FirstVia = def.Chain.Via(c)
	return c
}

// TestCreateTicketRetriedWithAnotherTokenFindsTheIssueTheFirstAttemptOpened:
// the claim records the GitHub user the first attempt is sent as, and a
// retry in a process with another token (sessions sharing one DATA_DIR)
// looks among that user's issues.
func TestCreateTicketRetriedWithAnotherTokenFindsTheIssueTheFirstAttemptOpened(t *testing.T) {
	t.Parallel()
	const devToken, botToken = "ghp_dev0000token", "ghp_bot0000token"
	srv := fakesaas.New(fakesaas.WithGitHubToken(devToken, "dev"), fakesaas.WithGitHubToken(botToken, "ci-bot"))
	t.Cleanup(srv.Close)
	dev, bot := createTicketWith(t, srv, devToken), createTicketWith(t, srv, botToken)
	earlier := claimed(dev, map[string]any{"repo": "acme/app", "title": "Earlier"}, "c0")
	assert.Equal(t, github.Sender{Unknown: true}, github.SenderFromVia(earlier.FirstVia), "nothing is asked before the claim")
	_, err := dev.Chain.Run(t.Context(), earlier)
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Count("GET", "/user"), "the first call learns who the token is")

	args := map[string]any{"repo": "acme/app", "title": "Broken login", "idempotencyKey": "k-1"}
	since := time.Now()
	first := claimed(dev, args, "c1")
	require.Equal(t, "github:dev", first.FirstVia)
	srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenClose})
	_, err = dev.Chain.Run(t.Context(), first)
	require.True(t, provider.InDoubt(err), "the answer was lost: %v", err)

	retry := chain.NewCall(bot.Chain, args, "t", "sandbox", "c2")
	retry.FirstVia = first.FirstVia // what the claim gives back
	got, found, err := bot.Chain.Reconcile(t.Context(), retry, since)
	require.NoError(t, err)
	require.True(t, found, "the bot's retry finds the developer's issue")
	assert.Equal(t, CreatedTicket{Provider: "github", Number: 2, URL: "https://github.com/acme/app/issues/2", IdempotencyKey: "k-1"}, got)
	assert.Equal(t, 1, srv.Count("GET", "/user"), "the bot looks as the developer, not as itself")
}

// TestCreateTicketIsSentWhenGitHubCannotSayWhoTheTokenIs: GET /user
// failing does not stop the send, and the claims keep recording an unknown
// sender until GitHub answers. A retry of such a claim that meets another
// user's issue with the marker refuses to decide rather than open a second
// issue or take it for ours; its own user's issue it takes.
func TestCreateTicketIsSentWhenGitHubCannotSayWhoTheTokenIs(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	def := createTicketWith(t, srv, fakesaas.GitHubToken)
	srv.Inject(fakesaas.Fault{Method: "GET", Path: "/user", Times: 1, Status: http.StatusServiceUnavailable})
	args := map[string]any{"repo": "acme/app", "title": "Broken login", "idempotencyKey": "k-2"}
	since := time.Now()

	c := claimed(def, args, "c1")
	_, err := def.Chain.Run(t.Context(), c)
	require.NoError(t, err)
	require.Len(t, srv.GitHubIssues("acme/app"), 1, "sent all the same")
	assert.Equal(t, github.Sender{Unknown: true}, github.SenderFromVia(claimed(def, args, "c2").FirstVia), "not learnt yet")

	srv.AddGitHubIssue(fakesaas.GitHubIssue{Repo: "acme/other", Title: "a copy", Body: github.Marker("k-2", time.Time{}), Creator: "mallory"})
	other := chain.NewCall(def.Chain, map[string]any{"repo": "acme/other", "title": "Broken login", "idempotencyKey": "k-2"}, "t", "sandbox", "c3")
	other.FirstVia = c.FirstVia
	_, found, err := def.Chain.Reconcile(t.Context(), other, since)
	assert.False(t, found)
	assert.ErrorIs(t, err, chain.ErrCannotReconcile)
	assert.ErrorIs(t, err, github.ErrFirstSenderUnknown)

	_, found, err = def.Chain.Reconcile(t.Context(), c, since)
	require.NoError(t, err)
	assert.True(t, found, "its own user's issue is taken")
	assert.Equal(t, "github:"+fakesaas.GitHubLogin, claimed(def, args, "c4").FirstVia, "learnt once GitHub answered")
}

// TestCreateTicketRecordsNoSenderForAClientThatCannotTell: a Client that is
// not a github.SenderClient (a test double) has claims record no sender,
// and is looked in as before.
func TestCreateTicketRecordsNoSenderForAClientThatCannotTell(t *testing.T) {
	t.Parallel()
	def, err := CreateTicket(Deps{GitHub: &issueRecorder{}})
	require.NoError(t, err)
	c := claimed(def, map[string]any{"repo": "acme/app", "title": "t", "idempotencyKey": "k"}, "c1")
	assert.Empty(t, c.FirstVia)
	_, err = def.Chain.Run(t.Context(), c)
	require.NoError(t, err)
	_, found, err := def.Chain.Reconcile(t.Context(), c, time.Now())
	require.NoError(t, err)
	assert.False(t, found)
}

// TestCreateTicketMarksItsClaimAndReconcilesOnlyItsOwnLife: the issue's
// marker names the claim the call was handed, and a reconciliation of a
// later life of the key (it expired and was claimed again) does not take
// that issue for its own, while the life that opened it does.
func TestCreateTicketMarksItsClaimAndReconcilesOnlyItsOwnLife(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	def := createTicketWith(t, srv, fakesaas.GitHubToken)
	args := map[string]any{"repo": "acme/app", "title": "Broken login", "idempotencyKey": "k-life"}
	first := time.Now().Add(-2 * time.Second)

	c := claimed(def, args, "c1")
	c.ClaimedAt = first
	_, err := def.Chain.Run(t.Context(), c)
	require.NoError(t, err)
	issues := srv.GitHubIssues("acme/app")
	require.Len(t, issues, 1)
	assert.Equal(t, github.Marker("k-life", first), issues[0].Body)

	got, found, err := def.Chain.Reconcile(t.Context(), c, c.ClaimedAt)
	require.NoError(t, err)
	require.True(t, found, "the life that opened the issue finds it")
	assert.Equal(t, 1, got.(CreatedTicket).Number)

	later := claimed(def, args, "c2")
	later.ClaimedAt = first.Add(time.Second)
	_, found, err = def.Chain.Reconcile(t.Context(), later, later.ClaimedAt)
	require.NoError(t, err)
	assert.False(t, found, "a later life of the key does not take the earlier one's issue")
}
