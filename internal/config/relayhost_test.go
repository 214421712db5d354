package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// A relay that keeps the secret in its sub-domain and serves a long,
// public path: the path passes the 16-byte bar, and a version that took a
// long path for the secret's place left the host out, so a DNS or TLS error
// naming the host alone carried the secret label raw (found in review).
func TestASecretRelayHostWithALongPublicPathIsRedacted(t *testing.T) {
	t.Parallel()
	const label = "k7Qz9VbX2mP4wL8nR3tY"
	for _, tc := range []struct{ url, errText string }{
		{"https://" + label + ".relay.example/api/v1/slack/incoming-webhook",
			"dial tcp: lookup " + label + ".relay.example: no such host"},
		{"https://" + label + ".relay.example/hook?channel=alerts-prod-team",
			"tls: failed to verify certificate: x509: certificate is valid for *.relay.example, not " + label + ".relay.example"},
	} {
		t.Run(tc.url[len(tc.url)-10:], func(t *testing.T) {
			t.Parallel()
			env := map[string]string{config.SlackWebhookURL: tc.url}
			red, _ := config.Redactor(func(k string) string { return env[k] })
			assert.NotContains(t, red.String(tc.errText), label)
		})
	}
}
