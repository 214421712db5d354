package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
)

// skew widens the search window: since comes from our clock, a message's
// ts from Slack's, and a host clock ahead of Slack's would otherwise ask for
// messages "since" a moment Slack has not reached, and miss the first
// attempt's. Reaching back 15 minutes takes in no message of an earlier life
// of the key: its metadata names another claim (see hasKey).
const skew = 15 * time.Minute

// pageSize is the history page size; Slack recommends no more than 200.
const pageSize = 200

// FindByKey pages through the channel's history since since-skew, with
// metadata, and through the replies of threads active in that window
// (history lists thread parents only). A channel given by name or user ID is
// first resolved to its conversation ID, which history needs.
func (c *client) FindByKey(ctx context.Context, channel, key string, since time.Time) (Posted, bool, error) {
	ctx, channel, err := c.readable(ctx, channel)
	if err != nil {
		return Posted{}, false, err
	}
	oldest, l := formatTS(since.Add(-skew)), life{key, since}
	var threads []string
	found, err := c.scan(ctx, "conversations.history", l, func(ctx context.Context, cursor string) (*page, error) {
		resp, err := c.api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
			ChannelID: channel, Oldest: oldest, Inclusive: true, Limit: pageSize,
			IncludeAllMetadata: true, Cursor: cursor,
		})
		if err != nil {
			return nil, err
		}
		for _, m := range resp.Messages {
			if m.ReplyCount > 0 && !tsBefore(m.LatestReply, oldest) {
				threads = append(threads, m.Timestamp)
			}
		}
		return &page{resp.Messages, resp.HasMore, resp.ResponseMetaData.NextCursor}, nil
	})
	if err != nil || found != "" {
		return Posted{Channel: channel, TS: found, Via: ViaAPI}, found != "", err
	}
	for _, parent := range threads {
		if p, ok, err := c.findReply(ctx, channel, parent, l, oldest); err != nil || ok {
			return p, ok, err
		}
	}
	return Posted{}, false, nil
}

// FindReplyByKey looks for a reply carrying key in the thread of threadTS,
// sent at or after since (less 15 minutes of clock skew), since being the
// claim's time, which the reply must name as in FindByKey. The thread's
// parent may be older than since, which FindByKey's history scan would not
// reach. The channel is resolved as in FindByKey.
func (c *client) FindReplyByKey(ctx context.Context, channel, threadTS, key string, since time.Time) (Posted, bool, error) {
	ctx, channel, err := c.readable(ctx, channel)
	if err != nil {
		return Posted{}, false, err
	}
	return c.findReply(ctx, channel, threadTS, life{key, since}, formatTS(since.Add(-skew)))
}

// readable prepares a history read: it needs a bot token (an incoming
// webhook cannot read), a context marked as a read (Slack's reads are
// POSTs; the transport may then repeat them after a 5xx or a dropped
// connection), and the channel's conversation ID.
func (c *client) readable(ctx context.Context, channel string) (context.Context, string, error) {
	switch {
	case c.api == nil && c.webhookURL == "":
		return ctx, "", ErrNoCredential
	case c.api == nil:
		return ctx, "", ErrNoHistory
	}
	ctx = httpx.WithReadOnly(ctx)
	id, err := c.conversationID(ctx, channel)
	return ctx, id, err
}

// findReply scans one thread's replies since oldest for l's message.
func (c *client) findReply(ctx context.Context, channel, parent string, l life, oldest string) (Posted, bool, error) {
	found, err := c.scan(ctx, "conversations.replies", l, func(ctx context.Context, cursor string) (*page, error) {
		msgs, more, next, err := c.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: parent, Oldest: oldest, Inclusive: true, Limit: pageSize,
			IncludeAllMetadata: true, Cursor: cursor,
		})
		if err != nil {
			return nil, err
		}
		return &page{msgs, more, next}, nil
	})
	return Posted{Channel: channel, TS: found, Via: ViaAPI}, found != "", err
}

type page struct {
	msgs []slackapi.Message
	more bool
	next string
}

// scan fetches pages until a message is l's, and returns its ts. Each
// fetch runs with a context of its own whose requests report to an
// Attempt, which classify needs to recognise a 429 that slack-go could not
// read (a Retry-After given as an HTTP date); a read is never in doubt all
// the same.
func (c *client) scan(ctx context.Context, op string, l life, fetch func(ctx context.Context, cursor string) (*page, error)) (string, error) {
	seen := map[string]bool{}
	cursor := ""
	for {
		actx, at := attempt.Track(ctx)
		p, err := fetch(actx, cursor)
		if err != nil {
			return "", c.classify(op, false, err, at)
		}
		for _, m := range p.msgs {
			if hasKey(m, l) {
				return m.Timestamp, nil
			}
		}
		if !p.more || p.next == "" {
			return "", nil
		}
		if seen[p.next] {
			return "", fmt.Errorf("slack %s: the cursor %q came back twice", op, p.next)
		}
		seen[p.next] = true
		cursor = p.next
	}
}

// life is one life of a key: the key, and the time of its claim.
type life struct {
	key     string
	claimed time.Time
}

// hasKey reports whether m was sent under l: its metadata names l's key
// and, when it names a claim, l's (a message sent by a release before
// claims were recorded names none, and matches on the key alone, so a call
// in doubt across the upgrade is still found).
func hasKey(m slackapi.Message, l life) bool {
	if m.Metadata.EventType != MetadataEventType {
		return false
	}
	p := m.Metadata.EventPayload
	if v, ok := p[MetadataKeyField].(string); !ok || v != l.key {
		return false
	}
	v, named := p[MetadataClaimField]
	if !named {
		return true
	}
	claim, ok := unixSeconds(v)
	return ok && claim == l.claimed.Unix()
}

// unixSeconds reads a claim as event_payload holds it: the string of
// decimal digits payload writes or, should anything turn it into a number
// on the way, a JSON number, which decodes as a float64 (exact for any Unix
// second of the next 285 million years) or a json.Number.
func unixSeconds(v any) (int64, bool) {
	switch n := v.(type) {
	case string:
		u, err := strconv.ParseUint(n, 10, 63) // digits only: no sign, no space
		return int64(u), err == nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// tsBefore reports whether Slack timestamp a is earlier than b. Both are
// "seconds.micros"; comparing the parts as padded digits avoids floats.
func tsBefore(a, b string) bool {
	pad := func(ts string) string {
		sec, frac, _ := strings.Cut(ts, ".")
		if len(frac) < 6 {
			frac += strings.Repeat("0", 6-len(frac))
		}
		return fmt.Sprintf("%020s.%s", sec, frac)
	}
	return pad(a) < pad(b)
}
