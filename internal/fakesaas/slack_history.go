package fakesaas

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// slackHistory is conversations.history: a channel's top-level messages
// (thread replies stay in their thread), newest first, paged by cursor.
func (s *Server) slackHistory(r *http.Request) reply {
	params, fail := s.slackCall(r)
	if fail != nil {
		return *fail
	}
	ch := params.Get("channel")
	if !s.slackChannelExists(ch) {
		return slackError("channel_not_found")
	}
	inWindow := slackWindow(params)
	s.mu.Lock()
	var msgs []SlackMessage
	for _, m := range s.slack.byChannel[ch] {
		if m.ThreadTS == "" && inWindow(m.TS) {
			msgs = append(msgs, m.clone())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(msgs, func(a, b SlackMessage) int { return compareTS(b.TS, a.TS) })
	return slackPage(params, msgs)
}

// slackReplies is conversations.replies: a thread's parent, then its replies
// oldest first.
func (s *Server) slackReplies(r *http.Request) reply {
	params, fail := s.slackCall(r)
	if fail != nil {
		return *fail
	}
	ch, ts := params.Get("channel"), params.Get("ts")
	if !s.slackChannelExists(ch) {
		return slackError("channel_not_found")
	}
	inWindow := slackWindow(params)
	s.mu.Lock()
	var parent *SlackMessage
	var replies []SlackMessage
	for _, m := range s.slack.byChannel[ch] {
		switch {
		case m.TS == ts && m.ThreadTS == "":
			c := m.clone()
			parent = &c
		case m.ThreadTS == ts && inWindow(m.TS):
			replies = append(replies, m.clone())
		}
	}
	s.mu.Unlock()
	if parent == nil {
		return slackError("thread_not_found")
	}
	slices.SortFunc(replies, func(a, b SlackMessage) int { return compareTS(a.TS, b.TS) })
	return slackPage(params, append([]SlackMessage{*parent}, replies...))
}

// slackWindow returns the oldest/latest/inclusive filter of a history call.
func slackWindow(params url.Values) func(ts string) bool {
	oldest, latest := params.Get("oldest"), params.Get("latest")
	inclusive := truthy(params.Get("inclusive"))
	return func(ts string) bool {
		if oldest != "" {
			if c := compareTS(ts, oldest); c < 0 || (c == 0 && !inclusive) {
				return false
			}
		}
		if latest != "" {
			if c := compareTS(ts, latest); c > 0 || (c == 0 && !inclusive) {
				return false
			}
		}
		return true
	}
}

// slackPage answers one page of msgs, as the limit and cursor ask.
func slackPage(params url.Values, msgs []SlackMessage) reply {
	limit, err := strconv.Atoi(cmp.Or(params.Get("limit"), "100"))
	if err != nil || limit <= 0 || limit > 999 {
		limit = 100
	}
	offset := 0
	if c := params.Get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		n, ok := strings.CutPrefix(string(b), "offset:")
		if err != nil || !ok {
			return slackError("invalid_cursor")
		}
		if offset, err = strconv.Atoi(n); err != nil || offset < 0 || offset > len(msgs) {
			return slackError("invalid_cursor")
		}
	}
	end := min(offset+limit, len(msgs))
	withMeta := truthy(params.Get("include_all_metadata"))
	out := make([]map[string]any, 0, end-offset)
	for i := range msgs[offset:end] {
		out = append(out, slackMessageJSON(msgs[offset+i], withMeta))
	}
	resp := map[string]any{"ok": true, "messages": out, "has_more": end < len(msgs), "pin_count": 0}
	if end < len(msgs) {
		next := base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
		resp["response_metadata"] = map[string]any{"next_cursor": next}
	}
	return jsonReply(http.StatusOK, resp)
}

// slackMessageJSON is a message as the Web API shows it. Metadata is shown
// only when asked for, as Slack does.
func slackMessageJSON(m SlackMessage, withMeta bool) map[string]any {
	out := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "team": slackTeam}
	if m.Via == "webhook" {
		out["subtype"] = "bot_message"
		out["bot_id"] = slackBotID
	} else {
		out["user"] = slackBotUser
		out["bot_id"] = slackBotID
		out["app_id"] = "A0FAKEAPP"
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
		out["parent_user_id"] = slackBotUser
	}
	if m.ReplyCount > 0 {
		out["thread_ts"] = m.TS
		out["reply_count"] = m.ReplyCount
		out["reply_users_count"] = 1
		out["latest_reply"] = m.LatestReply
		out["reply_users"] = []string{slackBotUser}
	}
	if withMeta && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

func truthy(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

// compareTS orders Slack timestamps ("seconds.micros") numerically.
func compareTS(a, b string) int {
	x, okA := tsMicros(a)
	y, okB := tsMicros(b)
	if !okA || !okB {
		return strings.Compare(a, b)
	}
	return cmp.Compare(x, y)
}

func tsMicros(ts string) (int64, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	if len(frac) > 6 {
		frac = frac[:6]
	}
	frac += strings.Repeat("0", 6-len(frac))
	s, err1 := strconv.ParseInt(cmp.Or(sec, "0"), 10, 64)
	f, err2 := strconv.ParseUint(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return s*1e6 + int64(f), true
}
