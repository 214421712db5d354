package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// SentMessage is sendMessage's structured result.
type SentMessage struct {
	Provider       string `json:"provider"`
	Channel        string `json:"channel"`
	TS             string `json:"ts"`
	Replayed       bool   `json:"replayed"`
	IdempotencyKey string `json:"idempotencyKey"`
}

// SendMessage posts a Slack message (chat.postMessage with SLACK_BOT_TOKEN,
// or an incoming-webhook post with only SLACK_WEBHOOK_URL).
func SendMessage(d Deps) (Definition, error) {
	t := &chain.Tool{
		Describe:    describeSent,
		Provider:    "slack",
		Action:      "post_message",
		Target:      arg("channel"),
		Credentials: []string{config.SlackBotToken, config.SlackWebhookURL},
		Run: func(ctx context.Context, c *chain.Call) (any, error) {
			if d.Slack == nil {
				return nil, notConfigured("Slack")
			}
			ctx = httpx.WithLimitKey(ctx, httpx.SlackPostMessageKey(paceKey(c)))
			p, err := d.Slack.PostMessage(ctx, slack.Message{
				Channel:  c.String("channel"),
				Text:     c.String("text"),
				ThreadTS: c.String("threadTs"),
				Key:      c.Key,
				Claimed:  c.ClaimedAt,
			})
			if err != nil {
				return nil, err
			}
			return sentMessage(c, p), nil
		},
		Reconcile: func(ctx context.Context, c *chain.Call, since time.Time) (any, bool, error) {
			if d.Slack == nil {
				return nil, false, notConfigured("Slack")
			}
			find := d.Slack.FindByKey
			if ts := c.String("threadTs"); ts != "" {
				// A reply: look in its thread, whose parent may be older
				// than the claim and so out of the history scan's reach.
				find = func(ctx context.Context, channel, key string, since time.Time) (slack.Posted, bool, error) {
					return d.Slack.FindReplyByKey(ctx, channel, ts, key, since)
				}
			}
			p, found, err := find(ctx, c.String("channel"), c.Key, since)
			if errors.Is(err, slack.ErrNoHistory) {
				return nil, false, chain.CannotReconcile(err)
			}
			if err == nil && !found && c.FirstVia == "" {
				// Claimed by a release that did not record how it sent: the
				// message may have gone through the webhook, carrying no key,
				// and not finding it proves nothing.
				return nil, false, chain.CannotReconcile(slack.ErrViaUnknown)
			}
			if err != nil || !found {
				return nil, found, err
			}
			return sentMessage(c, p), true, nil
		},
		// Without SLACK_BOT_TOKEN the client posts through the incoming
		// webhook, which answers no ts and cannot read history: a message
		// it may have posted can never be looked for.
		//
		// A message the first attempt posted through the webhook carries
		// no key either, so no bot token added since can find it.
		CanReconcile: func(c *chain.Call) error {
			if c.FirstVia == slack.ViaWebhook {
				return chain.CannotReconcile(slack.ErrPostedByWebhook)
			}
			if _, ok := c.Credentials[config.SlackBotToken]; !ok {
				return chain.CannotReconcile(slack.ErrNoHistory)
			}
			return nil
		},
		Via: func(c *chain.Call) string {
			if _, ok := c.Credentials[config.SlackBotToken]; ok {
				return slack.ViaAPI
			}
			return slack.ViaWebhook
		},
	}
	return define("sendMessage",
		"Post a message to a Slack channel or thread. Safe to retry: reuse idempotencyKey and it never posts twice.",
		hints{title: "Send Slack message", idempotent: true, world: true}, t)
}

// paceKey is what Slack's pace of about one message per second applies
// to: the channel, so "#general", "general" and "#General" are one; and,
// with only an incoming webhook, the webhook, which posts to its own fixed
// channel whatever the call names. (A channel named once by name and once
// by ID is paced as two: telling they are one would cost a lookup per post,
// and Slack answers the rare excess with a 429, which is waited out.)
func paceKey(c *chain.Call) string {
	if _, ok := c.Credentials[config.SlackBotToken]; !ok {
		if _, ok := c.Credentials[config.SlackWebhookURL]; ok {
			return "incoming-webhook"
		}
	}
	return strings.ToLower(strings.TrimPrefix(c.String("channel"), "#"))
}

// describeSent names a stored message in a replayed record the way
// sentMessage named it in the first: by channel and ts, or, for one an
// incoming webhook posted, by how it was sent (found in review: the replay
// named the channel the webhook ignores). How it was sent is the claim's
// via; a claim of a release that did not record it falls back on the ts,
// which only a webhook post leaves empty.
func describeSent(stored json.RawMessage, via string) map[string]any {
	d := describe("channel", "ts")(stored, via)
	if d == nil {
		return nil
	}
	switch ts, _ := d["ts"].(string); {
	case via == slack.ViaWebhook, via == "" && ts == "":
		return map[string]any{"via": "incoming-webhook"}
	}
	return d
}

// sentMessage is the result of a call that posted p, or found it posted by
// an earlier attempt. The call's audit record names the message either
// way, so the log alone ties the key to its effect.
func sentMessage(c *chain.Call, p slack.Posted) SentMessage {
	ch := p.Channel
	if ch == "" {
		ch = c.String("channel")
	}
	if p.Via == slack.ViaWebhook {
		// An incoming webhook posts to its own fixed channel, whatever
		// the call names, and Slack answers with no ts: the record says
		// how it was sent rather than name a channel it is not in.
		c.SetDetail("via", "incoming-webhook")
	} else {
		c.SetDetail("channel", ch)
		c.SetDetail("ts", p.TS)
	}
	return SentMessage{Provider: "slack", Channel: ch, TS: p.TS, IdempotencyKey: displayKey(c)}
}
