package fakesaas

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The bot the fake's Slack token belongs to.
const (
	slackBotUser = "U0FAKEBOT"
	slackBotID   = "B0FAKEBOT"
	slackTeam    = "T0FAKE"
)

// SlackMessage is a message the fake holds, posted through the API or an
// incoming webhook.
type SlackMessage struct {
	Channel  string         `json:"channel"`
	TS       string         `json:"ts"`
	ThreadTS string         `json:"thread_ts,omitempty"`
	Text     string         `json:"text"`
	Via      string         `json:"via"` // "api" or "webhook"
	Metadata *SlackMetadata `json:"metadata,omitempty"`
	// ReplyCount and LatestReply are set on a thread's parent.
	ReplyCount  int    `json:"reply_count,omitempty"`
	LatestReply string `json:"latest_reply,omitempty"`
}

// SlackMetadata is the metadata attached to a message with chat.postMessage.
type SlackMetadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// SlackChannel is a channel of the fake's workspace, for WithSlackChannel.
type SlackChannel struct {
	ID       string // "C..." or, for an old private channel, "G..."
	Name     string // lower case, without the '#'
	Private  bool   // listed under types=private_channel, not public_channel
	Archived bool   // posting to it answers is_archived
}

// DefaultSlackChannels returns the channels of the workspace the fake serves
// when no option names channels: a few public ones, a private one and an
// archived one.
func DefaultSlackChannels() []SlackChannel {
	return []SlackChannel{
		{ID: "C0GENERAL", Name: "general"},
		{ID: "C0RANDOM", Name: "random"},
		{ID: "C0DEPLOYS", Name: "deploys"},
		{ID: "G0INCIDENTS", Name: "incidents", Private: true},
		{ID: "C0OLDNEWS", Name: "old-news", Archived: true},
	}
}

// slackConversation is a channel or a DM of the workspace.
type slackConversation struct {
	SlackChannel
	user    string // the other member of a DM; empty for a channel
	created int64  // Unix seconds
}

// kind is the conversations.list type the conversation is listed under.
func (c *slackConversation) kind() string {
	switch {
	case c.user != "":
		return "im"
	case c.Private:
		return "private_channel"
	}
	return "public_channel"
}

type slackState struct {
	byChannel map[string][]*SlackMessage // by conversation ID, oldest first
	lastMicro int64                      // the last ts handed out, in microseconds
	// convs are the workspace's conversations in conversations.list order:
	// the configured channels, then DMs as they were opened.
	convs    []*slackConversation
	byID     map[string]*slackConversation
	dmByUser map[string]*slackConversation
	// anyID says every channel ID exists, listed or not (the default
	// workspace), so tests may post to channels they make up.
	anyID bool
	users map[string]bool // nil: every user ID exists
}

func (st *slackState) init(cfg settings) {
	st.byChannel = map[string][]*SlackMessage{}
	st.byID = map[string]*slackConversation{}
	st.dmByUser = map[string]*slackConversation{}
	st.users = cfg.slackUsers
	channels := cfg.slackChannels
	if channels == nil {
		st.anyID, channels = true, DefaultSlackChannels()
	}
	created := cfg.now().Unix()
	for _, c := range channels {
		if st.byID[c.ID] == nil {
			st.add(&slackConversation{SlackChannel: c, created: created})
		}
	}
}

func (st *slackState) add(c *slackConversation) {
	st.convs = append(st.convs, c)
	st.byID[c.ID] = c
}

// conversation returns the conversation with this ID, as the methods that
// take only an ID (conversations.history, conversations.replies) find it.
func (st *slackState) conversation(id string) *slackConversation {
	if c := st.byID[id]; c != nil {
		return c
	}
	if st.anyID && len(id) > 1 && (id[0] == 'C' || id[0] == 'G') {
		return &slackConversation{SlackChannel: SlackChannel{ID: id}}
	}
	return nil
}

// named returns the channel called name ("#" and case aside), or nil.
func (st *slackState) named(name string) *slackConversation {
	name = strings.ToLower(strings.TrimPrefix(name, "#"))
	for _, c := range st.convs {
		if c.user == "" && c.Name == name {
			return c
		}
	}
	return nil
}

// isSlackUser says id has the shape of a user ID: "U..." or, on Enterprise
// Grid, "W...".
func isSlackUser(id string) bool { return len(id) > 1 && (id[0] == 'U' || id[0] == 'W') }

func (st *slackState) userExists(id string) bool {
	if st.users != nil {
		return st.users[id]
	}
	return isSlackUser(id)
}

// openDM returns the app's DM with user, opening it if need be; already says
// it was open.
func (st *slackState) openDM(user string, now int64) (c *slackConversation, already bool) {
	if c := st.dmByUser[user]; c != nil {
		return c, true
	}
	c = &slackConversation{SlackChannel: SlackChannel{ID: fmt.Sprintf("D0DM%05d", len(st.dmByUser)+1)}, user: user, created: now}
	st.dmByUser[user] = c
	st.add(c)
	return c, false
}

// SlackMessages returns copies of the messages in channel (every channel when
// empty), oldest first.
func (s *Server) SlackMessages(channel string) []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SlackMessage
	for ch, msgs := range s.slack.byChannel {
		if channel != "" && ch != channel {
			continue
		}
		for _, m := range msgs {
			out = append(out, m.clone())
		}
	}
	slices.SortFunc(out, func(a, b SlackMessage) int { return compareTS(a.TS, b.TS) })
	return out
}

func (m *SlackMessage) clone() SlackMessage {
	c := *m
	if m.Metadata != nil {
		md := *m.Metadata
		c.Metadata = &md
	}
	return c
}

// slackError is Slack's answer to a failed Web API call: HTTP 200, ok false.
func slackError(code string) reply {
	return jsonReply(http.StatusOK, map[string]any{"ok": false, "error": code})
}

// slackParams returns a Web API call's arguments from the query, a form
// body, or a JSON body (whose non-string fields become their JSON text).
func slackParams(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.Form, nil
	}
	v := r.URL.Query()
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return nil, err
	}
	for k, x := range body {
		switch x := x.(type) {
		case nil:
		case string:
			v.Set(k, x)
		default:
			b, _ := json.Marshal(x)
			v.Set(k, string(b))
		}
	}
	return v, nil
}

// slackAuth checks the token in the Authorization header or, as older
// clients send it, in the "token" parameter. It returns a Slack error code.
func (s *Server) slackAuth(r *http.Request, params url.Values) string {
	token := params.Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	switch {
	case token == "":
		return "not_authed"
	case !slices.Contains(s.cfg.slackTokens, token):
		return "invalid_auth"
	}
	return ""
}

// slackCall parses and authenticates a Web API call; on failure it returns
// the error answer.
func (s *Server) slackCall(r *http.Request) (url.Values, *reply) {
	params, err := slackParams(r)
	if err != nil {
		rep := slackError("invalid_form_data")
		return nil, &rep
	}
	if code := s.slackAuth(r, params); code != "" {
		rep := slackError(code)
		return nil, &rep
	}
	return params, nil
}

// slackChannelExists says ch is the ID of a conversation. The methods that
// read a conversation take only its ID: Slack answers channel_not_found to a
// name or a user ID there, unlike chat.postMessage.
func (s *Server) slackChannelExists(ch string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slack.conversation(ch) != nil
}

// slackPostTarget returns the ID of the conversation a chat.postMessage
// channel argument names, read as Slack reads it: a conversation ID, a name
// with or without '#', or a user ID for the app's DM with that user (opened
// if need be). On failure it returns a Slack error code.
func (s *Server) slackPostTarget(arg string) (id, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.slack.conversation(arg)
	switch {
	case c != nil:
	case isSlackUser(arg) && s.slack.userExists(arg):
		c, _ = s.slack.openDM(arg, s.cfg.now().Unix())
	default:
		c = s.slack.named(arg)
	}
	switch {
	case c == nil:
		return "", "channel_not_found"
	case c.Archived:
		return "", "is_archived"
	}
	return c.ID, ""
}

func (s *Server) slackPostMessage(r *http.Request) reply {
	params, fail := s.slackCall(r)
	if fail != nil {
		return *fail
	}
	ch, code := s.slackPostTarget(params.Get("channel"))
	if code != "" {
		return slackError(code)
	}
	text := params.Get("text")
	if text == "" && params.Get("blocks") == "" && params.Get("attachments") == "" {
		return slackError("no_text")
	}
	var md *SlackMetadata
	if raw := params.Get("metadata"); raw != "" {
		md = &SlackMetadata{}
		if err := json.Unmarshal([]byte(raw), md); err != nil {
			return slackError("invalid_metadata_format")
		}
		if md.EventType == "" {
			return slackError("invalid_metadata_schema")
		}
	}
	m := s.slackStore(&SlackMessage{Channel: ch, ThreadTS: params.Get("thread_ts"), Text: text, Via: "api", Metadata: md})
	return jsonReply(http.StatusOK, map[string]any{
		"ok": true, "channel": ch, "ts": m.TS, "message": slackMessageJSON(m, true),
	})
}

// slackStore gives m the next ts and files it, updating its thread's parent.
func (s *Server) slackStore(m *SlackMessage) SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	micro := s.cfg.now().UnixMicro()
	if micro <= s.slack.lastMicro {
		micro = s.slack.lastMicro + 1
	}
	s.slack.lastMicro = micro
	m.TS = fmt.Sprintf("%d.%06d", micro/1e6, micro%1e6)
	if m.ThreadTS == m.TS {
		m.ThreadTS = ""
	}
	if m.ThreadTS != "" {
		for _, p := range s.slack.byChannel[m.Channel] {
			if p.TS == m.ThreadTS {
				p.ReplyCount++
				p.LatestReply = m.TS
			}
		}
	}
	s.slack.byChannel[m.Channel] = append(s.slack.byChannel[m.Channel], m)
	return m.clone()
}

// slackWebhook is an incoming webhook: the secret is the path, the answer is
// plain text, and the message lands in the webhook's channel. A failed post
// is answered as Slack answers it, with the reason as the whole body.
func (s *Server) slackWebhook(r *http.Request) reply {
	if r.URL.Path != s.cfg.webhookPath {
		return textReply(http.StatusNotFound, "no_service")
	}
	if s.slackWebhookArchived() {
		return textReply(http.StatusGone, "channel_is_archived")
	}
	var body struct {
		Text        string          `json:"text"`
		ThreadTS    string          `json:"thread_ts"`
		Blocks      json.RawMessage `json:"blocks"`
		Attachments json.RawMessage `json:"attachments"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return textReply(http.StatusBadRequest, "invalid_payload")
	}
	if body.Text == "" && len(body.Blocks) == 0 && len(body.Attachments) == 0 {
		return textReply(http.StatusBadRequest, "no_text")
	}
	s.slackStore(&SlackMessage{Channel: s.cfg.webhookChannel, ThreadTS: body.ThreadTS, Text: body.Text, Via: "webhook"})
	return textReply(http.StatusOK, "ok")
}

// slackWebhookArchived reports whether the webhook's channel is an archived
// channel of the workspace (WithSlackChannel), to which Slack refuses posts.
func (s *Server) slackWebhookArchived() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.slack.conversation(s.cfg.webhookChannel)
	return c != nil && c.Archived
}
