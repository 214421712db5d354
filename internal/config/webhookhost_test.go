package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// urlParts says Slack's own host stays readable; GovSlack's incoming-webhook
// host (hooks.slack-gov.com, 19 bytes) and Slack's host with an explicit
// port (hooks.slack.com:443, 19 bytes) are as public, but passed the 16-byte
// bar and were masked wherever they appeared (errors, logs, the audit log;
// found in review). A host is redacted only when neither the path nor the
// query can hold the secret.
func TestAPublicSlackWebhookHostStaysReadable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, public string }{
		{"https://hooks.slack-gov.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "lookup hooks.slack-gov.com: no such host"},
		{"https://hooks.slack.com:443/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "dial tcp hooks.slack.com:443: i/o timeout"},
	} {
		t.Run(tc.public, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{config.SlackWebhookURL: tc.url}
			red, _ := config.Redactor(func(k string) string { return env[k] })
			assert.Equal(t, tc.public, red.String(tc.public))
		})
	}
}
