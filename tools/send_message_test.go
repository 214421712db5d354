package tools

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// TestSendMessageReconcilesALostMessageToTheResultACallWouldHaveGiven loses
// the answer to a sendMessage after Slack stored the message, for each way
// the schema lets a channel be given, and reconciles: the message must be
// found (or the key would stay in doubt and the message be neither sent nor
// found), and the result must name the channel ID Slack answers a call with.
// sendMessageWith is the sendMessage tool on a Slack client of cfg, with a
// bounded HTTP client.
func sendMessageWith(t *testing.T, cfg slack.Config) Definition {
	t.Helper()
	cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	def, err := SendMessage(Deps{Slack: slack.New(cfg)})
	require.NoError(t, err)
	return def
}

func TestSendMessageReconcilesALostMessageToTheResultACallWouldHaveGiven(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		channel string
		thread  bool // a reply, reconciled in its thread
	}{
		{"a channel ID", "C0GENERAL", false},
		{"a #name", "#general", false},
		{"a name without the #", "general", false},
		{"a user ID, for a DM", "U0ALICE", false},
		{"a reply in a channel given by #name", "#deploys", true},
		{"a reply in a DM given by user ID", "U0ALICE", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New()
			t.Cleanup(srv.Close)
			def := sendMessageWith(t, slack.Config{BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken)})
			since := time.Now()
			args := map[string]any{"channel": tt.channel, "text": "deploy done", "idempotencyKey": "deploy-42"}
			var parent SentMessage // a normal call's result, for a reply
			if tt.thread {
				v, err := def.Chain.Run(t.Context(), chain.NewCall(def.Chain,
					map[string]any{"channel": tt.channel, "text": "release", "idempotencyKey": "release"}, "t", "sandbox", "c0"))
				require.NoError(t, err)
				parent = v.(SentMessage)
				args["threadTs"] = parent.TS
			}

			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Times: 1, Mode: fakesaas.CommitThenClose})
			c := chain.NewCall(def.Chain, args, "t", "sandbox", "c1")
			_, err := def.Chain.Run(t.Context(), c)
			require.True(t, provider.InDoubt(err), "the answer was lost: %v", err)
			msgs := srv.SlackMessages("")
			sent := msgs[len(msgs)-1]
			if tt.thread {
				assert.Equal(t, parent.Channel, sent.Channel, "a call reports the ID Slack answered with")
			}
			if strings.HasPrefix(tt.channel, "U") {
				assert.True(t, strings.HasPrefix(sent.Channel, "D"), "a DM: %s", sent.Channel)
			}

			got, found, err := def.Chain.Reconcile(t.Context(), c, since)
			require.NoError(t, err)
			require.True(t, found, "the message Slack stored is found")
			assert.Equal(t, SentMessage{Provider: "slack", Channel: sent.Channel, TS: sent.TS, IdempotencyKey: "deploy-42"}, got)
		})
	}
}

// TestSendMessageSaysWhenAnEarlierMessageCannotBeLookedFor: with only
// SLACK_WEBHOOK_URL a message that may have been posted cannot be found
// again (a webhook reads no history), and the chain must know it before it
// promises the agent a check; with a bot token it can be looked for.
func TestSendMessageSaysWhenAnEarlierMessageCannotBeLookedFor(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	tests := []struct {
		name     string
		creds    map[string]config.Secret
		cfg      slack.Config
		firstVia string // how the first attempt under the key was sent
		canCheck bool
		why      error
	}{
		{
			name:     "a bot token reads history",
			creds:    map[string]config.Secret{config.SlackBotToken: config.NewSecret(fakesaas.SlackToken)},
			cfg:      slack.Config{BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken)},
			firstVia: slack.ViaAPI,
			canCheck: true,
		},
		{
			name: "a bot token with a webhook URL reads history",
			creds: map[string]config.Secret{
				config.SlackBotToken: config.NewSecret(fakesaas.SlackToken), config.SlackWebhookURL: config.NewSecret(srv.SlackWebhookURL()),
			},
			cfg:      slack.Config{BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken), WebhookURL: config.NewSecret(srv.SlackWebhookURL())},
			firstVia: slack.ViaAPI,
			canCheck: true,
		},
		{
			name:  "only an incoming webhook cannot",
			creds: map[string]config.Secret{config.SlackWebhookURL: config.NewSecret(srv.SlackWebhookURL())},
			cfg:   slack.Config{BaseURL: srv.SlackAPIURL(), WebhookURL: config.NewSecret(srv.SlackWebhookURL())},
			why:   slack.ErrNoHistory,
		},
		{
			name:     "a bot token cannot find what the first attempt posted through the webhook",
			creds:    map[string]config.Secret{config.SlackBotToken: config.NewSecret(fakesaas.SlackToken)},
			cfg:      slack.Config{BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken)},
			firstVia: slack.ViaWebhook,
			why:      slack.ErrPostedByWebhook,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def := sendMessageWith(t, tt.cfg)
			c := chain.NewCall(def.Chain, map[string]any{"channel": "C0GENERAL", "text": "deploy", "idempotencyKey": "k"}, "t", "sandbox", "c")
			c.Credentials, c.FirstVia = tt.creds, tt.firstVia
			if tt.canCheck {
				_, _, rerr := def.Chain.Reconcile(t.Context(), c, time.Now().Add(-time.Minute))
				assert.NoError(t, def.Chain.CanReconcile(c))
				assert.NoError(t, rerr)
				return
			}
			err := def.Chain.CanReconcile(c)
			assert.ErrorIs(t, err, chain.ErrCannotReconcile)
			assert.ErrorIs(t, err, tt.why)
			if tt.why == slack.ErrNoHistory {
				_, _, rerr := def.Chain.Reconcile(t.Context(), c, time.Now().Add(-time.Minute))
				assert.ErrorIs(t, rerr, chain.ErrCannotReconcile)
				assert.ErrorIs(t, rerr, slack.ErrNoHistory, "the reason names the bot token it lacks")
			}
		})
	}
}

// TestAKeyClaimedBeforeViaWasRecordedIsNotSentAgainWhenNothingIsFound: a
// row claimed by a release that did not record how it sent (via "") may
// have posted through the webhook, whose message carries no key. With a
// bot token the message is looked for, and found if it was posted through
// the API; not finding it proves nothing, so the key stays blocked rather
// than post a second time (found in review).
func TestAKeyClaimedBeforeViaWasRecordedIsNotSentAgainWhenNothingIsFound(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	def := sendMessageWith(t, slack.Config{BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken)})
	c := chain.NewCall(def.Chain, map[string]any{"channel": "C0GENERAL", "text": "deploy", "idempotencyKey": "old-1"}, "t", "sandbox", "c")
	c.Credentials = map[string]config.Secret{config.SlackBotToken: config.NewSecret(fakesaas.SlackToken)}
	require.NoError(t, def.Chain.CanReconcile(c), "it can look")
	_, found, err := def.Chain.Reconcile(t.Context(), c, time.Now().Add(-time.Minute))
	assert.False(t, found)
	assert.ErrorIs(t, err, chain.ErrCannotReconcile)
	assert.ErrorIs(t, err, slack.ErrViaUnknown)
}

// TestSendMessageMarksItsClaimAndReconcilesOnlyItsOwnLife: the message's
// metadata names the claim the call was handed, and a reconciliation of a
// later life of the key (it expired and was claimed again) does not take
// that message for its own, while the life that sent it does.
func TestSendMessageMarksItsClaimAndReconcilesOnlyItsOwnLife(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	def := sendMessageWith(t, slack.Config{BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken)})
	args := map[string]any{"channel": "C1", "text": "deploy done", "idempotencyKey": "k-life"}
	first := time.Now().Add(-2 * time.Second)

	c := chain.NewCall(def.Chain, args, "t", "sandbox", "c1")
	c.FirstVia, c.ClaimedAt = slack.ViaAPI, first
	v, err := def.Chain.Run(t.Context(), c)
	require.NoError(t, err)
	msgs := srv.SlackMessages("C1")
	require.Len(t, msgs, 1)
	require.NotNil(t, msgs[0].Metadata)
	assert.Equal(t, strconv.FormatInt(first.Unix(), 10), msgs[0].Metadata.EventPayload[slack.MetadataClaimField])

	got, found, err := def.Chain.Reconcile(t.Context(), c, c.ClaimedAt)
	require.NoError(t, err)
	require.True(t, found, "the life that sent the message finds it")
	assert.Equal(t, v.(SentMessage).TS, got.(SentMessage).TS)

	later := chain.NewCall(def.Chain, args, "t", "sandbox", "c2")
	later.FirstVia, later.ClaimedAt = slack.ViaAPI, first.Add(time.Second)
	_, found, err = def.Chain.Reconcile(t.Context(), later, later.ClaimedAt)
	require.NoError(t, err)
	assert.False(t, found, "a later life of the key does not take the earlier one's message")
}
