package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
	"github.com/saas-mcp/saas-mcp/tools"
)

// HTTP_TIMEOUT is "timeout of one HTTP attempt to a provider", and the
// README counts "a response slower than HTTP_TIMEOUT" among the faults a
// call survives. A provider or proxy that stalls, before its headers or
// after them, must not hold the tool call (and, through the claim's
// heartbeat, its idempotency key) past the timeout; and since the request
// may have been acted on, the call must end in doubt and not be sent again.
func TestHTTPTimeoutEndsAProviderCallThatStallsAndLeavesItInDoubt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// headers is the status sent before the stall; 0 stalls before
		// the headers.
		headers int
		// partial is the part of the body sent before the stall.
		partial string
		call    func(*testing.T, context.Context, tools.Deps) error
	}{
		{
			name: "a created issue whose body stalls after the headers", headers: http.StatusCreated, partial: `{"number":1,`,
			call: createIssue,
		},
		{name: "an issue creation whose headers never come", call: createIssue},
		{
			name: "a posted Slack message whose body stalls after the headers", headers: http.StatusOK, partial: `{"ok":true,`,
			call: func(t *testing.T, ctx context.Context, d tools.Deps) error {
				require.NotNil(t, d.Slack)
				_, err := d.Slack.PostMessage(ctx, slack.Message{Channel: "C123", Text: "x", Key: "k"})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tt.headers != 0 {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.headers)
					_, _ = w.Write([]byte(tt.partial))
					w.(http.Flusher).Flush()
				}
				select { // the rest never comes
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(release) })

			cfg := config.Serve{
				GitHubAPIURL: srv.URL + "/", SlackAPIURL: srv.URL + "/",
				HTTPTimeout: 300 * time.Millisecond, HTTPMaxAttempts: 3, HTTPMaxWait: time.Second, HTTPMaxCallWait: time.Second,
			}
			env := func(k string) string {
				return map[string]string{
					config.GitHubToken:   "ghp_timeouttoken0000",
					config.SlackBotToken: "xoxb-0000000000-0000000000-timeouttoken",
				}[k]
			}
			secrets, err := config.LoadSecrets(env, config.CredentialNames...)
			require.NoError(t, err)
			var d tools.Deps
			red, _ := config.Redactor(env)
			buildClients(&d, cfg, secrets, red)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // only stops a hung test
			defer cancel()
			begin := time.Now()
			err = tt.call(t, ctx, d)
			took := time.Since(begin)

			require.Error(t, err)
			assert.Less(t, took, 3*time.Second, "HTTP_TIMEOUT=300ms must end the attempt; it took %s (err: %v)", took, err)
			assert.ErrorIs(t, err, httpx.ErrAttemptTimeout)
			assert.Contains(t, err.Error(), "attempt timed out")
			assert.True(t, provider.InDoubt(err), "the provider may have acted: %v", err)
			assert.Equal(t, int32(1), hits.Load(), "a POST that may have been acted on is not sent again")
		})
	}
}

func createIssue(t *testing.T, ctx context.Context, d tools.Deps) error {
	require.NotNil(t, d.GitHub)
	_, err := d.GitHub.CreateIssue(ctx, github.Issue{Repo: "acme/app", Title: "x", Key: "k"})
	return err
}
