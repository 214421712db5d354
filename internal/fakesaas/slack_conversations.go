package fakesaas

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// slackList is conversations.list: the workspace's conversations of the
// requested types (public channels by default), in a stable order, paged by
// a cursor that names the first conversation of the next page.
func (s *Server) slackList(r *http.Request) reply {
	params, fail := s.slackCall(r)
	if fail != nil {
		return *fail
	}
	types, ok := slackListTypes(params.Get("types"))
	if !ok {
		return slackError("invalid_types")
	}
	limit, err := strconv.Atoi(cmp.Or(params.Get("limit"), "100"))
	if err != nil || limit < 1 || limit > 1000 {
		return slackError("invalid_limit")
	}
	excludeArchived := truthy(params.Get("exclude_archived"))
	s.mu.Lock()
	var convs []slackConversation
	for _, c := range s.slack.convs {
		if types[c.kind()] && !(excludeArchived && c.Archived) {
			convs = append(convs, *c)
		}
	}
	s.mu.Unlock()
	start := 0
	if cursor := params.Get("cursor"); cursor != "" {
		b, err := base64.StdEncoding.DecodeString(cursor)
		id, ok := strings.CutPrefix(string(b), "channel:")
		start = slices.IndexFunc(convs, func(c slackConversation) bool { return c.ID == id })
		if err != nil || !ok || start < 0 {
			return slackError("invalid_cursor")
		}
	}
	end := min(start+limit, len(convs))
	out := make([]map[string]any, 0, end-start)
	for _, c := range convs[start:end] {
		out = append(out, c.json())
	}
	next := ""
	if end < len(convs) {
		next = base64.StdEncoding.EncodeToString([]byte("channel:" + convs[end].ID))
	}
	return jsonReply(http.StatusOK, map[string]any{
		"ok": true, "channels": out, "response_metadata": map[string]any{"next_cursor": next},
	})
}

// slackListTypes parses conversations.list's types argument.
func slackListTypes(arg string) (map[string]bool, bool) {
	types := map[string]bool{}
	for t := range strings.SplitSeq(cmp.Or(arg, "public_channel"), ",") {
		switch t = strings.TrimSpace(t); t {
		case "public_channel", "private_channel", "mpim", "im":
			types[t] = true
		case "":
		default:
			return nil, false
		}
	}
	return types, true
}

// slackOpen is conversations.open for a 1:1 DM: users=U... opens (or finds)
// the app's DM with that user, channel=D... resumes one. The fake does not
// open group DMs.
func (s *Server) slackOpen(r *http.Request) reply {
	params, fail := s.slackCall(r)
	if fail != nil {
		return *fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *slackConversation
	already := true
	switch id, users := params.Get("channel"), params.Get("users"); {
	case id != "":
		if c = s.slack.byID[id]; c == nil {
			return slackError("channel_not_found")
		}
		if c.user == "" {
			return slackError("method_not_supported_for_channel_type")
		}
	case users == "":
		return slackError("users_list_not_supplied")
	default:
		list := strings.Split(users, ",")
		switch {
		case len(list) > 8:
			return slackError("too_many_users")
		case len(list) > 1:
			return slackError("method_not_supported_for_channel_type") // a group DM
		}
		user := strings.TrimSpace(list[0])
		if !isSlackUser(user) || !s.slack.userExists(user) {
			return slackError("user_not_found")
		}
		c, already = s.slack.openDM(user, s.cfg.now().Unix())
	}
	channel := map[string]any{"id": c.ID}
	if truthy(params.Get("return_im")) {
		channel = c.json()
	}
	resp := map[string]any{"ok": true, "channel": channel}
	if already {
		resp["no_op"], resp["already_open"] = true, true
	}
	return jsonReply(http.StatusOK, resp)
}

// json is the conversation as conversations.list shows it.
func (c *slackConversation) json() map[string]any {
	if c.user != "" {
		return map[string]any{
			"id": c.ID, "created": c.created, "is_im": true, "is_org_shared": false,
			"user": c.user, "is_user_deleted": false, "priority": 0, "context_team_id": slackTeam,
		}
	}
	blank := map[string]any{"value": "", "creator": "", "last_set": 0}
	return map[string]any{
		"id": c.ID, "name": c.Name, "name_normalized": c.Name, "created": c.created, "creator": slackBotUser,
		"is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
		"is_private": c.Private, "is_archived": c.Archived, "is_general": c.Name == "general",
		"is_member": true, "is_shared": false, "is_ext_shared": false, "is_org_shared": false,
		"is_pending_ext_shared": false, "unlinked": 0, "context_team_id": slackTeam,
		"topic": blank, "purpose": blank, "previous_names": []string{},
	}
}
