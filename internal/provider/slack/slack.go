// Package slack sends Slack messages for the sendMessage tool and finds a
// message sent earlier by its idempotency key.
//
// With a bot token a message goes through chat.postMessage and carries the
// key and the time of its claim in its message metadata, so FindByKey can
// tell, after an answer was lost, whether the message went out. With only an
// incoming-webhook URL the message is sent but cannot be found again:
// webhooks return no timestamp and cannot read history.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// DefaultBaseURL is Slack's Web API.
const DefaultBaseURL = "https://slack.com/api/"

// MetadataEventType is the metadata event_type of every message we send;
// MetadataKeyField is the event_payload field holding the idempotency key,
// MetadataClaimField the one holding the time of the key's claim, in whole
// Unix seconds written as a string (see Message.Claimed).
const (
	MetadataEventType  = "saas_mcp_call"
	MetadataKeyField   = "idempotency_key"
	MetadataClaimField = "claim"
)

// How a message was sent, in Posted.Via.
const (
	ViaAPI     = "api"
	ViaWebhook = "webhook"
)

// ErrPostedByWebhook says that a message an earlier attempt may have posted
// went through the incoming webhook: such a message carries no idempotency
// key, so it cannot be found again even with a bot token.
var ErrPostedByWebhook = errors.New("slack: the first attempt with this key posted through the incoming webhook (SLACK_WEBHOOK_URL), " +
	"whose messages carry no idempotency key and cannot be found again, even with a bot token")

// ErrViaUnknown says that the first attempt under a key was claimed by a
// saas-mcp release that did not record whether it posted through the Web
// API or the incoming webhook, and no message with the key was found: it
// may have gone through the webhook, whose messages carry no key.
var ErrViaUnknown = errors.New("slack: no message with this key was found, but the first attempt was made by an earlier saas-mcp release " +
	"that did not record whether it posted through the incoming webhook, whose messages carry no key and cannot be found")

// ErrNoHistory is returned by FindByKey when only a webhook URL is set.
var ErrNoHistory = errors.New("slack: finding an earlier message needs a bot token; an incoming webhook cannot read channel history")

// Message is a message to send. Key is the idempotency key, stored in the
// message metadata; empty sends no metadata. Claimed is the time of the
// key's claim (chain.Call.ClaimedAt), stored beside it as whole Unix
// seconds (SQLite keeps nanoseconds, PostgreSQL microseconds; both floor to
// the same second) so that FindByKey tells this life of the key from an
// earlier one, whose message carries the same key; zero stores none.
type Message struct {
	Channel  string
	Text     string
	ThreadTS string
	Key      string
	Claimed  time.Time
}

// Posted is a sent message. TS is empty when sent through a webhook.
type Posted struct {
	Channel string
	TS      string
	Via     string
}

// Client sends messages and finds them again.
type Client interface {
	// PostMessage sends m. A failure is a *provider.Error.
	PostMessage(ctx context.Context, m Message) (Posted, error)
	// FindByKey looks for a message carrying key in channel, sent at or
	// after since (less 15 minutes for clock skew), top level or in a thread
	// whose parent is that recent. since is the key's claim time
	// (chain.Call.ClaimedAt): a message whose metadata names a claim matches
	// only if it names since's second, so a message of an earlier life of
	// the key (it expired and was claimed again) is not this call's; one
	// that names none (sent by an earlier release) matches on the key alone.
	// channel is what PostMessage was given (an ID, a name, or a user ID);
	// the Posted it returns names the conversation's ID, as PostMessage's
	// does.
	FindByKey(ctx context.Context, channel, key string, since time.Time) (Posted, bool, error)
	// FindReplyByKey looks for a reply carrying key in the thread of
	// threadTS, sent at or after since; the parent may be older. channel is
	// read as in FindByKey.
	FindReplyByKey(ctx context.Context, channel, threadTS, key string, since time.Time) (Posted, bool, error)
}

// Config configures a Client. Token or WebhookURL must be set; with both,
// the token is used.
type Config struct {
	// BaseURL is the Web API base, DefaultBaseURL when empty.
	BaseURL    string
	Token      config.Secret
	WebhookURL config.Secret
	// HTTPClient carries every request (the retrying transport in
	// production); http.DefaultClient when nil.
	HTTPClient *http.Client
	// Redactor, if set, also scrubs error text; the client always removes
	// its own token and webhook URL.
	Redactor *redact.Redactor
}

// ErrNoCredential is returned by every call of a Client configured with
// neither a token nor a webhook URL.
var ErrNoCredential = errors.New("slack: neither a bot token nor an incoming-webhook URL is configured")

type client struct {
	api        *slackapi.Client // nil without a token
	webhookURL string
	http       *http.Client
	scrub      attempt.Scrubber
}

var _ Client = (*client)(nil)

// New returns a Client for cfg. It sends nothing; a configuration without
// credentials fails each call with ErrNoCredential.
func New(cfg Config) Client {
	hc := attempt.WithTransport(cfg.HTTPClient) // for the status slack-go may drop
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	c := &client{
		webhookURL: cfg.WebhookURL.Reveal(),
		http:       hc,
		scrub:      attempt.Scrubber{redact.New(cfg.Token.Reveal(), cfg.WebhookURL.Reveal()), cfg.Redactor},
	}
	if cfg.Token.IsSet() {
		// No OptionDebug: slack-go would log request bodies, which hold the token.
		c.api = slackapi.New(cfg.Token.Reveal(), slackapi.OptionAPIURL(base), slackapi.OptionHTTPClient(hc))
	}
	return c
}

// PostMessage sends m through chat.postMessage, or the webhook without a token.
func (c *client) PostMessage(ctx context.Context, m Message) (Posted, error) {
	switch {
	case c.api == nil && c.webhookURL == "":
		return Posted{}, ErrNoCredential
	case c.api == nil:
		return c.postWebhook(ctx, m)
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(m.Text, false)}
	if m.Key != "" {
		opts = append(opts, slackapi.MsgOptionMetadata(slackapi.SlackMetadata{
			EventType:    MetadataEventType,
			EventPayload: payload(m),
		}))
	}
	if m.ThreadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(m.ThreadTS))
	}
	ctx, at := attempt.Track(ctx)
	ch, ts, err := c.api.PostMessageContext(ctx, m.Channel, opts...)
	if err != nil {
		return Posted{}, c.classify("chat.postMessage", true, err, at)
	}
	return Posted{Channel: ch, TS: ts, Via: ViaAPI}, nil
}

// payload is the metadata event_payload of m: its key and, when known,
// its claim, as a string of decimal digits, like the key: a string comes
// back from Slack as it was sent, whatever a reader does with numbers.
func payload(m Message) map[string]any {
	p := map[string]any{MetadataKeyField: m.Key}
	if !m.Claimed.IsZero() {
		p[MetadataClaimField] = strconv.FormatInt(m.Claimed.Unix(), 10)
	}
	return p
}

// postWebhook posts m to the incoming webhook. Slack names why a post
// failed only in the body of its answer ("channel_is_archived",
// "no_service"), which slack-go drops, so the call's Attempt keeps it for
// classify.
func (c *client) postWebhook(ctx context.Context, m Message) (Posted, error) {
	ctx, at := attempt.TrackErrorBody(ctx)
	err := slackapi.PostWebhookCustomHTTPContext(ctx, c.webhookURL, c.http, &slackapi.WebhookMessage{
		Text: m.Text, ThreadTimestamp: m.ThreadTS,
	})
	if err != nil {
		return Posted{}, c.classify("incoming webhook", true, err, at)
	}
	return Posted{Channel: m.Channel, Via: ViaWebhook}, nil
}

// formatTS renders t as a Slack timestamp, "seconds.micros".
func formatTS(t time.Time) string {
	if t.IsZero() || t.Unix() < 0 {
		return "0"
	}
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}
