package fakesaas_test

import (
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// slackAPI calls a Web API method with the fake's token and decodes the answer.
func slackAPI(t *testing.T, srv *fakesaas.Server, method string, v url.Values) map[string]any {
	t.Helper()
	v.Set("token", fakesaas.SlackToken)
	_, _, body := mustDo(t, slackForm(srv, method, v))
	return decode(t, body)
}

// slackIDs returns the ids of the "channels" (or "messages" ts) of a page.
func slackIDs(page map[string]any, field, key string) []string {
	var out []string
	for _, x := range page[field].([]any) {
		out = append(out, x.(map[string]any)[key].(string))
	}
	return out
}

func TestSlackPostMessageFilesTheMessageUnderTheConversationIDItAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []fakesaas.Option
		channel string
		wantID  string // "D" for a DM, whose ID the fake picks
		wantErr string
	}{
		{"a channel ID is the channel", nil, "C0GENERAL", "C0GENERAL", ""},
		{"a #name is the channel of that name", nil, "#general", "C0GENERAL", ""},
		{"a name without the # is the channel of that name", nil, "general", "C0GENERAL", ""},
		{"a private channel is found by name", nil, "#incidents", "G0INCIDENTS", ""},
		{"any other channel ID exists in the default workspace", nil, "C0MADEUP", "C0MADEUP", ""},
		{"a user ID is the app's DM with that user", nil, "U0ALICE", "D", ""},
		{"an Enterprise Grid user ID is a DM too", nil, "W0BOB", "D", ""},
		{"a name no channel has is channel_not_found", nil, "#nosuch", "", "channel_not_found"},
		{"an archived channel is is_archived", nil, "#old-news", "", "is_archived"},
		{"a user who does not exist is channel_not_found", []fakesaas.Option{fakesaas.WithSlackUsers("U0ALICE")}, "U0NOBODY", "", "channel_not_found"},
		{"a channel outside WithSlackChannels is channel_not_found", []fakesaas.Option{fakesaas.WithSlackChannels("C1")}, "C0GENERAL", "", "channel_not_found"},
		{"a channel of WithSlackChannels is named as its ID in lower case", []fakesaas.Option{fakesaas.WithSlackChannels("C1")}, "#c1", "C1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, tt.opts...)
			got := slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {tt.channel}, "text": {"hi"}})
			if tt.wantErr != "" {
				assert.Equal(t, false, got["ok"])
				assert.Equal(t, tt.wantErr, got["error"])
				assert.Empty(t, srv.SlackMessages(""))
				return
			}
			require.Equal(t, true, got["ok"], got)
			id, _ := got["channel"].(string)
			if tt.wantID == "D" {
				assert.True(t, strings.HasPrefix(id, "D"), "a DM: %s", id)
			} else {
				assert.Equal(t, tt.wantID, id)
			}
			msgs := srv.SlackMessages(id)
			require.Len(t, msgs, 1, "filed under the ID")
			assert.Equal(t, got["ts"], msgs[0].TS)

			again := slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {tt.channel}, "text": {"again"}})
			assert.Equal(t, id, again["channel"], "the same conversation every time")
		})
	}
}

func TestSlackHistoryAndRepliesTakeOnlyAConversationID(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	parent := slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {"#general"}, "text": {"parent"}})
	ts := parent["ts"].(string)
	slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {"#general"}, "text": {"reply"}, "thread_ts": {ts}})
	dm := slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {"U0ALICE"}, "text": {"psst"}})
	dmID := dm["channel"].(string)

	tests := []struct {
		name    string
		channel string
		ts      string // the thread, for conversations.replies
		wantOK  bool
	}{
		{"a channel ID is read", "C0GENERAL", ts, true},
		{"a DM's ID is read", dmID, dm["ts"].(string), true},
		{"a #name is channel_not_found", "#general", ts, false},
		{"a bare name is channel_not_found", "general", ts, false},
		{"a user ID is channel_not_found", "U0ALICE", dm["ts"].(string), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, method := range []string{"conversations.history", "conversations.replies"} {
				got := slackAPI(t, srv, method, url.Values{"channel": {tt.channel}, "ts": {tt.ts}})
				if !tt.wantOK {
					assert.Equal(t, false, got["ok"], method)
					assert.Equal(t, "channel_not_found", got["error"], method)
					continue
				}
				require.Equal(t, true, got["ok"], "%s: %v", method, got)
				assert.Contains(t, slackIDs(got, "messages", "ts"), tt.ts, method)
			}
		})
	}
}

func TestSlackConversationsListFiltersByTypeAndArchivalAndPages(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	dm := slackAPI(t, srv, "conversations.open", url.Values{"users": {"U0ALICE"}})["channel"].(map[string]any)["id"].(string)
	tests := []struct {
		name string
		args url.Values
		want []string
	}{
		{"public channels by default, archived ones included", url.Values{},
			[]string{"C0GENERAL", "C0RANDOM", "C0DEPLOYS", "C0OLDNEWS"}},
		{"exclude_archived leaves archived channels out", url.Values{"exclude_archived": {"true"}},
			[]string{"C0GENERAL", "C0RANDOM", "C0DEPLOYS"}},
		{"private_channel lists private channels", url.Values{"types": {"private_channel"}},
			[]string{"G0INCIDENTS"}},
		{"types mix", url.Values{"types": {"public_channel,private_channel"}, "exclude_archived": {"1"}},
			[]string{"C0GENERAL", "C0RANDOM", "C0DEPLOYS", "G0INCIDENTS"}},
		{"im lists open DMs", url.Values{"types": {"im"}}, []string{dm}},
		{"mpim lists nothing", url.Values{"types": {"mpim"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 10, "the cursor must end")
				args := url.Values{"limit": {"2"}, "cursor": {cursor}}
				for k, v := range tt.args {
					args[k] = v
				}
				page := slackAPI(t, srv, "conversations.list", args)
				require.Equal(t, true, page["ok"], page)
				ids := slackIDs(page, "channels", "id")
				assert.LessOrEqual(t, len(ids), 2, "no more than limit")
				got = append(got, ids...)
				cursor = page["response_metadata"].(map[string]any)["next_cursor"].(string)
				if cursor == "" {
					break
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSlackConversationsListDescribesChannelsAsSlackDoes(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {"U0ALICE"}, "text": {"hi"}})
	page := slackAPI(t, srv, "conversations.list", url.Values{"types": {"private_channel,im"}})
	chans := page["channels"].([]any)
	require.Len(t, chans, 2)
	private, im := chans[0].(map[string]any), chans[1].(map[string]any)
	assert.Equal(t, "G0INCIDENTS", private["id"])
	assert.Equal(t, "incidents", private["name"])
	assert.Equal(t, true, private["is_channel"])
	assert.Equal(t, true, private["is_private"])
	assert.Equal(t, false, private["is_archived"])
	assert.Equal(t, true, im["is_im"])
	assert.Equal(t, "U0ALICE", im["user"])
	assert.NotContains(t, im, "name", "a DM has no name")
}

func TestSlackConversationsListAndOpenRefuseBadArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []fakesaas.Option
		method  string
		args    url.Values
		noToken bool
		want    string
	}{
		{"list without a token is not_authed", nil, "conversations.list", url.Values{}, true, "not_authed"},
		{"list with an unknown type is invalid_types", nil, "conversations.list", url.Values{"types": {"public_channel,bogus"}}, false, "invalid_types"},
		{"list with a zero limit is invalid_limit", nil, "conversations.list", url.Values{"limit": {"0"}}, false, "invalid_limit"},
		{"list with a limit over 1000 is invalid_limit", nil, "conversations.list", url.Values{"limit": {"1001"}}, false, "invalid_limit"},
		{"list with a made-up cursor is invalid_cursor", nil, "conversations.list", url.Values{"cursor": {"bm9wZQ=="}}, false, "invalid_cursor"},
		{"open without a token is not_authed", nil, "conversations.open", url.Values{"users": {"U0ALICE"}}, true, "not_authed"},
		{"open without users is users_list_not_supplied", nil, "conversations.open", url.Values{}, false, "users_list_not_supplied"},
		{"open with a user who does not exist is user_not_found", []fakesaas.Option{fakesaas.WithSlackUsers("U0ALICE")}, "conversations.open", url.Values{"users": {"U0NOBODY"}}, false, "user_not_found"},
		{"open with a channel ID is user_not_found", nil, "conversations.open", url.Values{"users": {"C0GENERAL"}}, false, "user_not_found"},
		{"open with more than 8 users is too_many_users", nil, "conversations.open", url.Values{"users": {"U1,U2,U3,U4,U5,U6,U7,U8,U9"}}, false, "too_many_users"},
		{"resuming a channel that is not a DM is refused", nil, "conversations.open", url.Values{"channel": {"C0GENERAL"}}, false, "method_not_supported_for_channel_type"},
		{"resuming an unknown DM is channel_not_found", nil, "conversations.open", url.Values{"channel": {"D0NOPE"}}, false, "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, tt.opts...)
			args := maps.Clone(tt.args)
			if !tt.noToken {
				args.Set("token", fakesaas.SlackToken)
			}
			_, _, body := mustDo(t, slackForm(srv, tt.method, args))
			got := decode(t, body)
			assert.Equal(t, false, got["ok"])
			assert.Equal(t, tt.want, got["error"])
		})
	}
}

func TestSlackConversationsOpenOpensOneDMPerUser(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	first := slackAPI(t, srv, "conversations.open", url.Values{"users": {"U0ALICE"}})
	require.Equal(t, true, first["ok"], first)
	id := first["channel"].(map[string]any)["id"].(string)
	assert.True(t, strings.HasPrefix(id, "D"), id)
	assert.NotContains(t, first, "already_open", "it was not open before")

	again := slackAPI(t, srv, "conversations.open", url.Values{"users": {"U0ALICE"}, "return_im": {"true"}})
	assert.Equal(t, true, again["already_open"])
	assert.Equal(t, true, again["no_op"])
	full := again["channel"].(map[string]any)
	assert.Equal(t, id, full["id"])
	assert.Equal(t, true, full["is_im"], "return_im gives the whole DM")
	assert.Equal(t, "U0ALICE", full["user"])

	resumed := slackAPI(t, srv, "conversations.open", url.Values{"channel": {id}})
	assert.Equal(t, id, resumed["channel"].(map[string]any)["id"])

	other := slackAPI(t, srv, "conversations.open", url.Values{"users": {"U0BOB"}})
	assert.NotEqual(t, id, other["channel"].(map[string]any)["id"], "another user, another DM")

	posted := slackAPI(t, srv, "chat.postMessage", url.Values{"channel": {"U0ALICE"}, "text": {"hi"}})
	assert.Equal(t, id, posted["channel"], "a message to the user lands in the DM")
}
