package mcpserver_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// tokenServer is serve (minus guard and secrets) with a real GitHub client
// using token, on the DATA_DIR given: two of them are two sessions sharing
// one DATA_DIR with different GitHub tokens.
func tokenServer(t *testing.T, dir string, gh *fakesaas.Server, token string) *server.MCPServer {
	t.Helper()
	client := github.New(github.Config{BaseURL: gh.GitHubAPIURL(), Token: config.NewSecret(token),
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	srv, _ := serveStack(t, dir, "sandbox", client)
	return srv
}

// The claim records the sender of the first attempt only, which every
// later retry searches. A retry from a session with another token used to
// send when it found nothing (found in review): with that answer lost too,
// the next retry looked among the first token's user's issues only, missed
// the issue, and opened a second one for one key. A retry under another
// token now sends nothing; the first token's session then reconciles and
// sends once.
func TestARetryUnderAnotherTokenThanTheFirstAttemptsSendsNothing(t *testing.T) {
	t.Parallel()
	const devToken, botToken = "ghp_dev0000token", "ghp_bot0000token"
	gh := fakesaas.New(fakesaas.WithGitHubToken(devToken, "dev"), fakesaas.WithGitHubToken(botToken, "ci-bot"))
	t.Cleanup(gh.Close)
	dir := t.TempDir()
	dev, bot := tokenServer(t, dir, gh, devToken), tokenServer(t, dir, gh, botToken)

	// The developer's session learns who its token is (its first call).
	out, isErr := callOn(t, dev, "createTicket", `{"repo":"acme/app","title":"Warm-up"}`)
	require.False(t, isErr, out)

	const args = `{"repo":"acme/app","title":"Broken login","idempotencyKey":"k-1"}`
	// 1. The developer's attempt is claimed as github:dev, and lost before
	// GitHub got it.
	gh.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.Drop})
	out, isErr = callOn(t, dev, "createTicket", args)
	require.True(t, isErr, out)
	require.Len(t, gh.GitHubIssues("acme/app"), 1, "only the warm-up issue: %s", out)

	// 2. The bot's session retries: nothing among dev's issues, and an issue
	// it opened as ci-bot could not be found by later retries: it sends
	// nothing, and says whose token can.
	out, isErr = callOn(t, bot, "createTicket", args)
	require.True(t, isErr, out)
	assert.Contains(t, out, "sent as GitHub user dev and this server's token is GitHub user ci-bot's")
	assert.Len(t, gh.GitHubIssues("acme/app"), 1, "the bot sent: %s", out)

	// 3. The developer's session retries: nothing found, so it sends, once.
	out, isErr = callOn(t, dev, "createTicket", args)
	require.False(t, isErr, out)
	assert.Len(t, gh.GitHubIssues("acme/app"), 2, "%s", out)
	out, isErr = callOn(t, bot, "createTicket", args)
	require.False(t, isErr, out)
	assert.True(t, replayed(t, out), "the key's result, whoever asks: %s", out)
	assert.Len(t, gh.GitHubIssues("acme/app"), 2)
}
