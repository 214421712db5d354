package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"
)

// ErrChannelNotFound is returned by FindByKey and FindReplyByKey when the
// channel was given by a name that no channel the bot can see has.
var ErrChannelNotFound = errors.New("slack: no public or private channel the bot can see has this name")

// listPageSize is the conversations.list page size, Slack's maximum:
// the method is rate limited per call (tier 2), and a workspace may have
// thousands of channels.
const listPageSize = 1000

// conversationID returns the ID of the conversation that chat.postMessage
// posts to when given channel. chat.postMessage takes a conversation ID, a
// channel name with or without '#', or a user ID (for the app's DM with that
// user), but conversations.history and conversations.replies take only the
// conversation ID: given anything else they answer channel_not_found, and an
// earlier message could never be found.
//
// Slack IDs begin with an upper-case letter that says what they name (C or
// G a channel, D a DM, U or W a user), and channel names are lower case, so
// the first letter tells them apart. ctx must be marked read-only: both
// lookups are safe to repeat (conversations.open returns the DM it opened
// before).
func (c *client) conversationID(ctx context.Context, channel string) (string, error) {
	if name, ok := strings.CutPrefix(channel, "#"); ok {
		return c.channelNamed(ctx, strings.ToLower(name))
	}
	switch {
	case channel == "" || strings.IndexByte("CGD", channel[0]) >= 0:
		return channel, nil
	case channel[0] == 'U' || channel[0] == 'W':
		return c.dmWith(ctx, channel)
	}
	return c.channelNamed(ctx, strings.ToLower(channel))
}

// channelNamed pages through the public and private channels the bot can see
// (archived ones too: one may have been archived after the message went out)
// for the one called name.
func (c *client) channelNamed(ctx context.Context, name string) (string, error) {
	seen := map[string]bool{}
	cursor := ""
	for {
		chans, next, err := c.api.GetConversationsContext(ctx, &slackapi.GetConversationsParameters{
			Types: []string{"public_channel", "private_channel"}, Limit: listPageSize, Cursor: cursor,
		})
		if err != nil {
			return "", c.classify("conversations.list", false, err, nil)
		}
		for _, ch := range chans {
			if ch.Name == name {
				return ch.ID, nil
			}
		}
		if next == "" {
			return "", fmt.Errorf("find channel #%s: %w", name, ErrChannelNotFound)
		}
		if seen[next] {
			return "", fmt.Errorf("slack conversations.list: the cursor %q came back twice", next)
		}
		seen[next] = true
		cursor = next
	}
}

// dmWith returns the ID of the app's DM with user, where chat.postMessage
// posts a message sent to a user ID.
func (c *client) dmWith(ctx context.Context, user string) (string, error) {
	ch, _, _, err := c.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", c.classify("conversations.open", false, err, nil)
	}
	if ch == nil || ch.ID == "" {
		return "", fmt.Errorf("slack conversations.open: no channel in the answer for user %s", user)
	}
	return ch.ID, nil
}

// FieldID reads a Slack event field that is an ID string for most events
// and an object with an id for some (event.channel of channel_created,
// event.user of team_join and user_change); anything else is "".
func FieldID(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}
