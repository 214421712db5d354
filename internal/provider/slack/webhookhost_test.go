package slack_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// An incoming-webhook URL is itself the secret (README, chain step 4). A
// relay URL (the README's own "relay" case) can carry its secret in the
// host name, one sub-domain per hook (https://<secret>.relay.example/). When
// the name does not resolve, net/http's error quotes the URL (masked) and
// then the resolver's error, which names the host again on its own: the
// redactor knew the whole URL, its path, query and last path segment, but
// not the host, so the secret label reached the tool error, and with it the
// agent and the audit log (found in review). It knows the host too.
func TestAWebhookURLWhoseSecretIsItsHostDoesNotLeakInADNSError(t *testing.T) {
	t.Parallel()
	const label = "qz7vkp2mwx9rtl4nyb8hcj3d" // the per-hook secret, no known token shape
	hook := "https://" + label + ".relay.example/hook"
	env := map[string]string{config.SlackWebhookURL: hook}
	red, _ := config.Redactor(func(k string) string { return env[k] })

	// A resolver that fails as a real one does when its server cannot be
	// reached (kept on 127.0.0.1: a closed port).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	deadDNS := pc.LocalAddr().String()
	require.NoError(t, pc.Close())
	dialer := &net.Dialer{Timeout: 2 * time.Second, Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, deadDNS)
		}}}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}

	c := slack.New(slack.Config{WebhookURL: config.NewSecret(hook), HTTPClient: hc, Redactor: red})
	_, err = c.PostMessage(t.Context(), slack.Message{Channel: "#general", Text: "deploy done"})
	require.Error(t, err)
	msg := red.String(err.Error()) // what the agent, the audit log and stderr get
	t.Logf("tool error: %s", msg)
	assert.False(t, strings.Contains(msg, label), "the webhook URL's secret host reached the error: %s", msg)
}
