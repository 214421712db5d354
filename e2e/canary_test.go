package e2e

// Secrets never leave (found in review): canary values of no known token shape, so that only the
// "configured value" half of the redactor can catch them, driven through
// paths that produce text. Each test greps every byte the server produced
// (tool result, audit log, stderr) for the canary and its encoded forms.

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// canaryForms returns the canary and the encodings it could travel in.
func canaryForms(c string) []string {
	var out []string
	for _, f := range []string{c, base64.StdEncoding.EncodeToString([]byte(c)), url.QueryEscape(c), url.PathEscape(c)} {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// requireNoCanary fails if any of the texts holds the canary (or a prefix
// of it at least minLen long) in any form, naming every place it leaked.
func requireNoCanary(t *testing.T, canary string, minLen int, texts map[string]string) {
	t.Helper()
	for where, txt := range texts {
		for _, form := range canaryForms(canary) {
			if i := strings.Index(txt, form); i >= 0 {
				t.Errorf("the secret leaked into %s: ...%s...", where, txt[max(0, i-120):min(len(txt), i+len(form)+20)])
			}
		}
		if minLen > 0 && !strings.Contains(txt, canary) {
			if i := strings.Index(txt, canary[:minLen]); i >= 0 {
				t.Errorf("a %d-byte prefix of the secret leaked into %s: ...%s", minLen, where, txt[i:min(len(txt), i+60)])
			}
		}
	}
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	require.NoError(t, err)
	return string(b)
}

// TestTheSlackWebhookURLDoesNotLeakInAnotherSpelling: an incoming-webhook
// URL is itself the secret. net/http's errors quote the URL as it was last
// requested, which need not be the configured string: after a redirect
// (http -> https, as most fronts do) or with a relay's password masked
// ("***"). The whole-value replacement missed both, and the secret path
// reached the agent, the audit log and stderr.
func TestTheSlackWebhookURLDoesNotLeakInAnotherSpelling(t *testing.T) {
	const canary = "Qz7vKp2mWx9RtL4nYb8HcJ3dFs6G" // the webhook's secret path part, no known shape
	redirecting := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusPermanentRedirect) // upgrade, as a front would
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/services/T0001/B0001/" + canary
	}
	relayWithPassword := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close()) // connection refused: the request never left
		return "http://relay:relay-pass-1@" + addr + "/services/T0001/B0001/" + canary
	}
	for name, hookURL := range map[string]func(*testing.T) string{"after a redirect": redirecting, "with a masked password": relayWithPassword} {
		t.Run(name, func(t *testing.T) {
			hook := hookURL(t)
			h := start(t, func(*fakesaas.Server) map[string]string {
				return map[string]string{"SLACK_WEBHOOK_URL": hook, "SLACK_BOT_TOKEN": "", "HTTP_MAX_ATTEMPTS": "1"}
			})
			res := h.call("sendMessage", map[string]any{"channel": "#general", "text": "hello", "idempotencyKey": "k-hook-1"})
			require.True(t, res.IsError)
			requireNoCanary(t, canary, 0, map[string]string{
				"the tool result (the agent)": text(res),
				"the audit log":               readAll(t, h.auditLog),
				"stderr":                      h.stderr.String(),
			})
		})
	}
}

// With the documented set-up (`set -a; . ./.env; set +a` before make run),
// serve's environment holds the webhook signing secrets too, but serve's
// redactor knows only the four credentials: a writeAudit whose details (or
// target) quote a configured signing secret puts it in the audit log and
// echoes it back.
func TestServeRedactsTheSigningSecretsInItsEnvironment(t *testing.T) {
	const canary = "p4Rt9wQmZk2VbX7nLc5JhT8yGd3F" // GITHUB_WEBHOOK_SECRET, no known shape
	const canary2 = "Hn6Ks1Vq8Zr3Mw5Pt0Lx4Cb9Dj2F"
	dir := t.TempDir()
	file := dir + "/slack-signing"
	require.NoError(t, os.WriteFile(file, []byte("\ufeff"+canary2+"\r\n"), 0o600))
	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"GITHUB_WEBHOOK_SECRET": "old-secret-xyz," + canary, "SLACK_SIGNING_SECRET_FILE": file}
	})
	res := h.call("writeAudit", map[string]any{"provider": "github", "action": "rotate_webhook_secret", "target": "acme/app",
		"details": map[string]any{"note": "rotated to " + canary + " and slack to " + canary2}})
	require.False(t, res.IsError, text(res))
	for _, c := range []string{canary, canary2} {
		requireNoCanary(t, c, 0, map[string]string{
			"the tool result (the agent)": text(res),
			"the audit log":               readAll(t, h.auditLog),
		})
	}
}

// The audit middleware cuts a target to 1 KiB before the writer redacts it,
// so a configured secret that straddles the cut is no longer matched whole:
// its first bytes stay in the started and terminal records.
func TestAnAuditFieldIsRedactedBeforeItIsCut(t *testing.T) {
	const canary = "Zt5Wq8Xk3Nv6Bm1Rp9Lc4Hy7Gd2Js0Fa" // GITHUB_TOKEN, no known shape (a proxy's token, say)
	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"GITHUB_TOKEN": canary}
	})
	target := strings.Repeat("a", 1024-20) + canary // the cut falls 20 bytes into the secret
	res := h.call("writeAudit", map[string]any{"provider": "github", "action": "note", "target": target})
	require.True(t, res.IsError, "target is over the schema's 512 bytes")
	requireNoCanary(t, canary, 16, map[string]string{
		"the tool result (the agent)": text(res),
		"the audit log":               readAll(t, h.auditLog),
		"stderr":                      h.stderr.String(),
	})
}

// Validation problems are cut to 300 bytes before the tool error is
// redacted: a configured secret straddling the cut reaches the agent (and
// the audit log's error field) as a prefix.
func TestAValidationProblemIsRedactedBeforeItIsCut(t *testing.T) {
	const canary = "Mv7Yc2Xq9Kt4Wb6Np1Hs8Lr3Jd5Gf0Za" // SLACK_BOT_TOKEN of a Slack-compatible proxy, no known shape
	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_BOT_TOKEN": canary}
	})
	// The 300-byte cut falls about 15 bytes into the secret.
	key := "a b" + strings.Repeat("a", 300-17-3-3+20-len(canary)) + canary + strings.Repeat("z", 40)
	res := h.call("sendMessage", map[string]any{"channel": "C0123ABCD", "text": "hi", "idempotencyKey": key})
	require.True(t, res.IsError)
	requireNoCanary(t, canary, 12, map[string]string{
		"the tool result (the agent)": text(res),
		"the audit log":               readAll(t, h.auditLog),
	})
}
