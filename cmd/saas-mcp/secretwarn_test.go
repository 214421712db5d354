package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// Start-up warns of a provider without a signing secret and of short
// secrets (review observation: a short secret that is an ordinary word is
// masked wherever the word appears), by variable and count, never by value.
func TestStartUpWarnsOfMissingAndShortSigningSecretsWithoutTheirValues(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 32)
	tests := []struct {
		name string
		cfg  config.Webhook
		want []string // variable names warned about, in order
		kind []string
	}{
		{"all long", config.Webhook{GitHubSecrets: config.SplitSecrets(long), StripeSecrets: config.SplitSecrets("whsec_" + long), SlackSecrets: config.SplitSecrets(long)}, nil, nil},
		{"a short one among rotated secrets", config.Webhook{GitHubSecrets: config.SplitSecrets("issues," + long), StripeSecrets: config.SplitSecrets("whsec_" + long), SlackSecrets: config.SplitSecrets(long)},
			[]string{"GITHUB_WEBHOOK_SECRET"}, []string{"shorter than 16"}},
		{"missing and short", config.Webhook{SlackSecrets: config.SplitSecrets("pushpush")},
			[]string{"GITHUB_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET"}, []string{"no signing secret", "no signing secret", "shorter than 16"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			warnSecrets(slog.New(slog.NewJSONHandler(&buf, nil)), tc.cfg)
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(tc.want) == 0 {
				assert.Empty(t, strings.TrimSpace(buf.String()))
				return
			}
			if assert.Len(t, lines, len(tc.want), "%s", &buf) {
				for i, l := range lines {
					assert.Contains(t, l, `"variable":"`+tc.want[i]+`"`)
					assert.Contains(t, l, tc.kind[i])
				}
			}
			assert.NotContains(t, buf.String(), "issues")
			assert.NotContains(t, buf.String(), "pushpush")
		})
	}
}
