package e2e

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A provider URL that redirects elsewhere (a proxy, a mistyped
// SLACK_API_URL) must not take the credentials with it: net/http drops the
// Authorization header on a redirect to another host, but not the body,
// where slack-go puts the bot token. The redirect is refused; the other
// host receives nothing, and the error names no token.
func TestARedirectToAnotherHostIsNotFollowedWithTheToken(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_BOT_TOKEN": fakesaas.SlackToken, "SLACK_API_URL": redirector.URL + "/api/"}
	})
	res := h.call("sendMessage", map[string]any{"channel": "C0REDIR", "text": "hi"})
	require.True(t, res.IsError, text(res))
	assert.Contains(t, text(res), "redirect to another host refused")
	assert.NotContains(t, text(res), fakesaas.SlackToken)
	assert.Zero(t, elsewhere.Load(), "the other host received the request, and the token in its body")
}
