package tools

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// With only SLACK_WEBHOOK_URL, sendMessage posts through the incoming
// webhook, which posts to its own fixed channel whatever the call names
// (README: the pace key "one for an incoming webhook whatever the channel";
// the webhook payload carries no channel). The terminal audit record is now
// meant to name the message "so the log alone ties the key to its effect"
// (README, chain step 1: sendMessage details.channel and details.ts). In
// webhook mode it named the channel the agent asked for, where the message
// is not, and an empty ts (found in review): it now says how the message
// was sent instead.
func TestInWebhookModeSendMessagesAuditRecordNamesNoChannelTheMessageIsNotIn(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	def := sendMessageWith(t, slack.Config{BaseURL: srv.SlackAPIURL(), WebhookURL: config.NewSecret(srv.SlackWebhookURL())})
	s := &sink{}
	run := chain.Wrap(chain.Final, chain.Audit(s, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil))))
	c := chain.NewCall(def.Chain, map[string]any{"channel": "#general", "text": "deploy done", "idempotencyKey": "k1"}, "t", "sandbox", "c1")
	c.Credentials = map[string]config.Secret{config.SlackWebhookURL: config.NewSecret(srv.SlackWebhookURL())}
	_, err := run(context.Background(), c)
	require.NoError(t, err)

	msgs := srv.SlackMessages("")
	require.Len(t, msgs, 1)
	posted := msgs[0].Channel
	require.NotEqual(t, "#general", posted)

	term := s.recs[len(s.recs)-1]
	require.Equal(t, audit.StatusSucceeded, term.Status)
	if ch, ok := term.Details["channel"]; ok {
		assert.NotEqual(t, "#general", ch,
			"the audit record says the message is in #general; the incoming webhook posted it to %s; details %v", posted, term.Details)
	}
	assert.Equal(t, "incoming-webhook", term.Details["via"])
	assert.NotContains(t, term.Details, "ts")
}
