package fakesaas_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

func TestSlackPostMessageAnswersLikeSlack(t *testing.T) {
	t.Parallel()
	meta := `{"event_type":"saas_mcp_call","event_payload":{"idempotency_key":"k1"}}`
	tests := []struct {
		name      string
		call      func(srv *fakesaas.Server) call
		wantError string // Slack error code; empty for ok
	}{
		{"a form with the token in the body posts", func(srv *fakesaas.Server) call {
			return slackForm(srv, "chat.postMessage", url.Values{"token": {fakesaas.SlackToken}, "channel": {"C1"}, "text": {"hi"}, "metadata": {meta}})
		}, ""},
		{"a JSON body with a bearer token posts", func(srv *fakesaas.Server) call {
			return call{method: "POST", url: srv.SlackAPIURL() + "chat.postMessage",
				header: map[string]string{"Authorization": "Bearer " + fakesaas.SlackToken, "Content-Type": "application/json"},
				body:   `{"channel":"C1","text":"hi","metadata":` + meta + `}`}
		}, ""},
		{"no token is not_authed", func(srv *fakesaas.Server) call {
			return slackForm(srv, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"hi"}})
		}, "not_authed"},
		{"a wrong token is invalid_auth", func(srv *fakesaas.Server) call {
			return slackForm(srv, "chat.postMessage", url.Values{"token": {"xoxb-wrong"}, "channel": {"C1"}, "text": {"hi"}})
		}, "invalid_auth"},
		{"an unknown channel is channel_not_found", func(srv *fakesaas.Server) call {
			return slackForm(srv, "chat.postMessage", url.Values{"token": {fakesaas.SlackToken}, "channel": {"C404"}, "text": {"hi"}})
		}, "channel_not_found"},
		{"an empty text is no_text", func(srv *fakesaas.Server) call {
			return slackForm(srv, "chat.postMessage", url.Values{"token": {fakesaas.SlackToken}, "channel": {"C1"}})
		}, "no_text"},
		{"metadata that is not JSON is invalid_metadata_format", func(srv *fakesaas.Server) call {
			return slackForm(srv, "chat.postMessage", url.Values{"token": {fakesaas.SlackToken}, "channel": {"C1"}, "text": {"hi"}, "metadata": {"{"}})
		}, "invalid_metadata_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t, fakesaas.WithSlackChannels("C1"))
			status, _, body := mustDo(t, tt.call(srv))
			require.Equal(t, http.StatusOK, status, "Slack answers 200 even for errors")
			got := decode(t, body)
			if tt.wantError != "" {
				assert.Equal(t, false, got["ok"])
				assert.Equal(t, tt.wantError, got["error"])
				assert.Empty(t, srv.SlackMessages(""), "a failed call has no effect")
				return
			}
			assert.Equal(t, true, got["ok"])
			assert.Equal(t, "C1", got["channel"])
			msgs := srv.SlackMessages("C1")
			require.Len(t, msgs, 1)
			assert.Equal(t, msgs[0].TS, got["ts"])
			assert.Equal(t, "hi", msgs[0].Text)
			require.NotNil(t, msgs[0].Metadata)
			assert.Equal(t, "saas_mcp_call", msgs[0].Metadata.EventType)
			assert.Equal(t, "k1", msgs[0].Metadata.EventPayload["idempotency_key"])
		})
	}
}

func TestSlackTimestampsAreUniqueAndOrderedUnderAFrozenClock(t *testing.T) {
	t.Parallel()
	frozen := time.Unix(1712345678, 100_000)
	srv := setup(t, fakesaas.WithClock(func() time.Time { return frozen }))
	var ts []string
	for range 3 {
		_, _, body := mustDo(t, slackForm(srv, "chat.postMessage", url.Values{"token": {fakesaas.SlackToken}, "channel": {"C1"}, "text": {"x"}}))
		ts = append(ts, decode(t, body)["ts"].(string))
	}
	assert.Equal(t, []string{"1712345678.000100", "1712345678.000101", "1712345678.000102"}, ts)
}

func TestSlackHistoryFiltersPagesAndHidesMetadataUnlessAsked(t *testing.T) {
	t.Parallel()
	now := time.Unix(1712345600, 0)
	srv := setup(t, fakesaas.WithClock(func() time.Time { return now }))
	post := func(text, thread string) string {
		_, _, body := mustDo(t, slackForm(srv, "chat.postMessage", url.Values{
			"token": {fakesaas.SlackToken}, "channel": {"C1"}, "text": {text}, "thread_ts": {thread},
			"metadata": {`{"event_type":"saas_mcp_call","event_payload":{"idempotency_key":"` + text + `"}}`},
		}))
		return decode(t, body)["ts"].(string)
	}
	old := post("old", "")
	now = now.Add(time.Minute)
	a := post("a", "")
	b := post("b", "")
	reply := post("reply", a)
	c := post("c", "")

	history := func(v url.Values) map[string]any {
		v.Set("token", fakesaas.SlackToken)
		v.Set("channel", "C1")
		_, _, body := mustDo(t, slackForm(srv, "conversations.history", v))
		return decode(t, body)
	}
	tss := func(page map[string]any) []string {
		var out []string
		for _, m := range page["messages"].([]any) {
			out = append(out, m.(map[string]any)["ts"].(string))
		}
		return out
	}

	first := history(url.Values{"oldest": {old}, "limit": {"2"}, "include_all_metadata": {"1"}})
	assert.Equal(t, []string{c, b}, tss(first), "newest first, after oldest, without thread replies")
	assert.Equal(t, true, first["has_more"])
	meta := first["messages"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
	assert.Equal(t, "c", meta["event_payload"].(map[string]any)["idempotency_key"])

	cursor := first["response_metadata"].(map[string]any)["next_cursor"].(string)
	second := history(url.Values{"oldest": {old}, "limit": {"2"}, "cursor": {cursor}})
	assert.Equal(t, []string{a}, tss(second))
	assert.Equal(t, false, second["has_more"])
	parent := second["messages"].([]any)[0].(map[string]any)
	assert.NotContains(t, parent, "metadata", "metadata only with include_all_metadata")
	assert.EqualValues(t, 1, parent["reply_count"])
	assert.Equal(t, reply, parent["latest_reply"])

	_, _, body := mustDo(t, slackForm(srv, "conversations.replies", url.Values{
		"token": {fakesaas.SlackToken}, "channel": {"C1"}, "ts": {a}, "include_all_metadata": {"true"},
	}))
	assert.Equal(t, []string{a, reply}, tss(decode(t, body)), "the parent, then its replies")
}

func TestSlackIncomingWebhookAnswersPlainText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"the configured path posts", fakesaas.SlackWebhookPath, `{"text":"hello"}`, 200, "ok"},
		{"another path is no_service", "/services/T000/B000/YYYY", `{"text":"hello"}`, 404, "no_service"},
		{"an empty message is no_text", fakesaas.SlackWebhookPath, `{}`, 400, "no_text"},
		{"a body that is not JSON is invalid_payload", fakesaas.SlackWebhookPath, `text=hi`, 400, "invalid_payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t)
			status, _, body := mustDo(t, call{method: "POST", url: srv.URL + tt.path, body: tt.body})
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantBody, string(body))
			msgs := srv.SlackMessages("C0WEBHOOK")
			if tt.wantStatus == 200 {
				require.Len(t, msgs, 1)
				assert.Equal(t, "webhook", msgs[0].Via)
			} else {
				assert.Empty(t, msgs)
			}
		})
	}
}

func TestSlackIncomingWebhookToAnArchivedChannelAnswersChannelIsArchived(t *testing.T) {
	t.Parallel()
	srv := setup(t, fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0WEBHOOK", Name: "alerts", Archived: true}))
	status, _, body := mustDo(t, call{method: "POST", url: srv.SlackWebhookURL(), body: `{"text":"hello"}`})
	assert.Equal(t, http.StatusGone, status)
	assert.Equal(t, "channel_is_archived", string(body))
	assert.Empty(t, srv.SlackMessages("C0WEBHOOK"))
}
