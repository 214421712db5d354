package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
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
// Slack IDs are upper-case letters and digits only, and begin with a letter
// that says what they name (C or G a channel, D a DM, U or W a user);
// channel names are lower case in Slack, but chat.postMessage reads them
// case aside, so "General" and "Deploys" name channels too. The first letter
// alone would take those for a G- or D-ID and send them to history as they
// are, where they are never found, so only an argument made wholly of
// upper-case letters and digits, with a digit among them, is read as an ID; anything else is a name,
// with or without its '#', looked up in lower case. ctx must be marked
// read-only: every lookup is safe to repeat (conversations.open returns the
// DM it opened before).
func (c *client) conversationID(ctx context.Context, channel string) (string, error) {
	switch {
	case channel == "" || isID(channel, "CGD"):
		return channel, nil
	case isID(channel, "UW"):
		return c.dmWith(ctx, channel)
	}
	id, err := c.channelNamed(ctx, strings.ToLower(strings.TrimPrefix(channel, "#")))
	if errors.Is(err, ErrChannelNotFound) && !strings.HasPrefix(channel, "#") {
		// No channel has the name, so chat.postMessage, which took the
		// argument, may have read it as an ID after all: Slack does not
		// promise its IDs' shape, and the fake Slack the tests run against
		// takes any "C..." for one. Read it by its first letter, as before
		// names were told apart by their case; a name no channel has then
		// fails in history with channel_not_found, as it did.
		switch channel[0] {
		case 'C', 'G', 'D':
			return channel, nil
		case 'U', 'W':
			return c.dmWith(ctx, channel)
		}
	}
	return id, err
}

// isID reports whether s has the shape of a Slack ID whose first letter is
// one of kinds: upper-case letters and digits only, with at least one
// digit (C024BE91L; an all-capitals word such as GENERAL, CI or DEV is a
// name written in capitals, which chat.postMessage takes as the channel:
// found in review). A name given with its '#' never is one.
func isID(s, kinds string) bool {
	if s == "" || strings.IndexByte(kinds, s[0]) < 0 {
		return false
	}
	digit := false
	for i := range len(s) {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
			digit = true
		case ch < 'A' || ch > 'Z':
			return false
		}
	}
	return digit
}

// channelNamed pages through the public and private channels the bot can see
// (archived ones too: one may have been archived after the message went out)
// for the one called name.
func (c *client) channelNamed(ctx context.Context, name string) (string, error) {
	seen := map[string]bool{}
	cursor := ""
	for {
		// Tracked, as scan's pages are, so classify recognises a 429
		// slack-go could not read.
		actx, at := attempt.Track(ctx)
		chans, next, err := c.api.GetConversationsContext(actx, &slackapi.GetConversationsParameters{
			Types: []string{"public_channel", "private_channel"}, Limit: listPageSize, Cursor: cursor,
		})
		if err != nil {
			return "", c.classify("conversations.list", false, err, at)
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
	// Tracked, as scan's pages are, so classify recognises a 429 slack-go
	// could not read.
	actx, at := attempt.Track(ctx)
	ch, _, _, err := c.api.OpenConversationContext(actx, &slackapi.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return "", c.classify("conversations.open", false, err, at)
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
