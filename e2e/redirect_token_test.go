package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A relay's incoming-webhook URL carries its secret in the query
// (?token=...). In front of the relay sits a login proxy (Cloudflare
// Access, oauth2-proxy) that answers an unauthenticated request with a
// redirect to its login host, quoting the original URL percent-encoded in
// its own query (redirect_url=, rd=). The redirect is refused (another
// host), and net/http's *url.Error quotes the Location header verbatim.
// Neither the whole URL nor any of its redacted parts (path, raw query
// "token=...", host) appears there as written: "token%3D<secret>" holds the
// secret raw, but not "token=<secret>". The relay's token reached the
// agent, the audit log and stderr (found in review; urlParts now registers
// each query value and path segment, as written and escaped).
func TestTheWebhookTokenDoesNotLeakThroughAPercentEncodedRedirect(t *testing.T) {
	t.Parallel()
	const canary = "Qz7vKp2mWx9RtL4nYb8HcJ3dFs6G" // the relay's token, no known shape
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(login.Close)
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As Cloudflare Access does: to the login host, the request's
		// path and query percent-encoded in redirect_url.
		http.Redirect(w, r, login.URL+"/cdn-cgi/access/login?redirect_url="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
	}))
	t.Cleanup(relay.Close)
	hook := relay.URL + "/hooks/slack?token=" + canary

	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_WEBHOOK_URL": hook, "SLACK_BOT_TOKEN": "", "HTTP_MAX_ATTEMPTS": "1"}
	})
	res := h.call("sendMessage", map[string]any{"channel": "#general", "text": "hello", "idempotencyKey": "k-hook-redirect-1"})
	require.True(t, res.IsError, text(res))
	for where, txt := range map[string]string{
		"the tool result (the agent)": text(res),
		"the audit log":               readAll(t, h.auditLog),
		"stderr":                      h.stderr.String(),
	} {
		if i := strings.Index(txt, canary); i >= 0 {
			t.Errorf("the webhook URL's token leaked into %s: ...%s...", where, txt[max(0, i-160):min(len(txt), i+len(canary)+20)])
		}
	}
}
