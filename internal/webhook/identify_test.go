package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestAStripeThinEventWhoseTypeHasBracketsIsStoredWithItsRelatedObject:
// Stripe's v2 Accounts thin events have types with brackets in them
// (v2.core.account[requirements].updated,
// v2.core.account[configuration.merchant].capability_status_updated, ...;
// docs.stripe.com/api/v2/core/accounts/event-types). Such a delivery is
// verified and has a usable id and type, so it must be stored (202), not
// refused as malformed (400): Stripe would retry it for days and then
// disable the endpoint, and with it the payment events. A thin event has no
// data.object: its target is related_object.id (found in review).
func TestAStripeThinEventWhoseTypeHasBracketsIsStoredWithItsRelatedObject(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{
		"v2.core.account.updated", // the same shape without brackets
		"v2.core.account[requirements].updated",
		"v2.core.account[configuration.merchant].capability_status_updated",
		"v2.core.account[identity].updated",
	} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			id := "evt_test_65R9Ijk8" + strings.NewReplacer("[", "", "]", "", ".", "").Replace(typ)[:10]
			body := []byte(`{"id":"` + id + `","object":"v2.core.event","type":"` + typ + `",` +
				`"livemode":false,"created":"2026-09-17T06:20:52.246Z","context":null,` +
				`"related_object":{"id":"acct_1Nv0FGQ9RKHgCVdK","type":"v2.core.account","url":"/v2/core/accounts/acct_1Nv0FGQ9RKHgCVdK"}}`)
			code, out := do(t, stripeRequest(t, b.url, body))
			require.Equal(t, http.StatusAccepted, code, "a verified Stripe thin event was refused: %s", out)
			b.settle(t)

			d, err := b.db.Find(context.Background(), "stripe:"+id)
			require.NoError(t, err)
			assert.Equal(t, typ, d.EventType)
			assert.Equal(t, "acct_1Nv0FGQ9RKHgCVdK", d.Target, "a thin event's target is its related object")
		})
	}
}

// TestAStripeEventTypeIsStillRefusedWhatCouldBreakARecord: accepting the
// brackets of thin event types lets nothing else in that a key, an audit
// record or a log line could be broken by.
func TestAStripeEventTypeIsStillRefusedWhatCouldBreakARecord(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "v2.core.account[a b].updated", `a"b`, "a/b", `a\b`, "a\nb", "a\x00b", "a]b\u00e9", strings.Repeat("x", 201)} {
		body := []byte(`{"id":"evt_1","type":` + jsonString(t, typ) + `}`)
		_, err := identifyStripe(body, http.Header{})
		assert.ErrorIs(t, err, errMalformed, "type %q", typ)
	}
	id, err := identifyStripe([]byte(`{"id":"evt_1","type":"a.b","data":{"object":{"id":"pi_1"}},"related_object":{"id":"acct_1"}}`), http.Header{})
	require.NoError(t, err)
	assert.Equal(t, "pi_1", id.d.Target, "data.object names a snapshot event's object, whatever else the body holds")
}

// TestASlackInteractiveDeliveryIsAuditedWithWhereItHappened: an interactive
// delivery (a form post with payload=<JSON>) names its team and channel
// inside the JSON, not in a channel_id form field as a slash command does.
// Its records must still say where it happened (team/channel, as an
// event_callback's do), not an empty target; without a channel, its modal
// or its team (found in review).
func TestASlackInteractiveDeliveryIsAuditedWithWhereItHappened(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, payload, target string }{
		{"block_actions in a message", `{"type":"block_actions","user":{"id":"U1","team_id":"T1"},"api_app_id":"A1","token":"x",` +
			`"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"C2","is_ephemeral":false},` +
			`"trigger_id":"123.456.abc","team":{"id":"T1","domain":"acme"},"channel":{"id":"C2","name":"general"},` +
			`"response_url":"https://hooks.slack.com/actions/T1/1/xyz","actions":[{"action_id":"ok","block_id":"b","type":"button","action_ts":"1700000001.000200"}]}`,
			"T1/C2"},
		{"a channel only in the container", `{"type":"block_actions","team":{"id":"T1"},"container":{"type":"message","channel_id":"C3"}}`, "T1/C3"},
		{"a message shortcut", `{"type":"message_action","callback_id":"cb","team":{"id":"T1","domain":"acme"},"channel":{"id":"C4","name":"ops"},"message":{"ts":"1.2"}}`, "T1/C4"},
		{"a modal submitted", `{"type":"view_submission","team":{"id":"T1","domain":"acme"},"user":{"id":"U1"},"view":{"id":"V5","type":"modal","callback_id":"cb"}}`, "T1/V5"},
		{"an action inside a modal", `{"type":"block_actions","team":{"id":"T1"},"container":{"type":"view","view_id":"V6"},"view":{"id":"V6","type":"modal"}}`, "T1/V6"},
		{"a global shortcut", `{"type":"shortcut","callback_id":"cb","team":{"id":"T1","domain":"acme"},"user":{"id":"U1"}}`, "T1"},
		{"a channel of another shape", `{"type":"block_actions","team":{"id":"T1"},"channel":17}`, "T1"},
		{"a huge channel id", `{"type":"block_actions","team":{"id":"T1"},"channel":{"id":"C` + strings.Repeat("x", 300) + `"}}`, ("T1/C" + strings.Repeat("x", 300))[:maxField]},
		{"a payload that is not JSON", `not json`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertSlackFormStored(t, url.Values{"payload": {tt.payload}}, "interactive", tt.target)
		})
	}
}

// A slash command names its team and channel like every other Slack
// delivery (team/channel), not its channel alone.
func TestASlackSlashCommandIsAuditedWithItsTeamAndChannel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		form   url.Values
		target string
	}{
		{"team and channel", url.Values{"command": {"/deploy"}, "team_id": {"T1"}, "channel_id": {"C2"}, "text": {"prod"}}, "T1/C2"},
		{"no team", url.Values{"command": {"/deploy"}, "channel_id": {"C2"}}, "C2"},
		{"no channel", url.Values{"command": {"/deploy"}, "team_id": {"T1"}}, "T1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertSlackFormStored(t, tt.form, "slash_command", tt.target)
		})
	}
}

// assertSlackFormStored posts form, signed, as a Slack form delivery and
// checks it is accepted and stored, and audited received, with the event
// type and target given.
func assertSlackFormStored(t *testing.T, form url.Values, eventType, target string) {
	t.Helper()
	b := setup(t, nil)
	body := []byte(form.Encode())
	req, _ := http.NewRequest(http.MethodPost, b.url+"/webhooks/slack", strings.NewReader(string(body)))
	req.Header = slackHeader(body, "slack-secret", time.Now())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, out := do(t, req)
	b.settle(t)
	// Slack acknowledges a command or an interaction with a 200 and an
	// empty body: a body would be shown to the user as a message.
	require.Equal(t, http.StatusOK, code, "a verified Slack delivery was refused: %s", out)
	assert.Empty(t, out, "the acknowledgment carries no body")

	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, eventType, ds[0].EventType)
	assert.Equal(t, target, ds[0].Target, "the stored delivery's target")
	recs := b.sink.byStatus(audit.StatusReceived)
	require.Len(t, recs, 1)
	assert.Equal(t, target, recs[0].Target, "the received audit record's target")
}

func stripeRequest(t *testing.T, url string, body []byte) *http.Request {
	t.Helper()
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_test", Timestamp: time.Now()})
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/stripe", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set(StripeSignatureHeader, sp.Header)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return req
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

// A signed GitHub delivery refused as malformed names in its refusal what
// its headers say of where it came from (found in a new-user walkthrough:
// one without X-GitHub-Delivery named only the path, though its hook id was
// there); a hook id that is not plain text is not recorded.
func TestAMalformedGitHubDeliveryNamesItsHook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers map[string]string
		target  string
	}{
		{"no delivery id", map[string]string{GitHubEventHeader: "issues", GitHubHookIDHeader: "42"}, "hook:42"},
		{"no delivery id, an installation target", map[string]string{GitHubEventHeader: "issues", GitHubHookIDHeader: "42",
			"X-GitHub-Hook-Installation-Target-Type": "repository", "X-GitHub-Hook-Installation-Target-ID": "7"}, "repository:7"},
		{"no delivery id, no hook", map[string]string{GitHubEventHeader: "issues"}, ""},
		{"a hook id that is not plain text", map[string]string{GitHubEventHeader: "issues", GitHubDeliveryHeader: "d-1",
			GitHubHookIDHeader: "4 2\u2028"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			id, err := identifyGitHub([]byte(`{}`), h)
			require.ErrorIs(t, err, errMalformed)
			assert.Equal(t, tt.target, id.d.Target)
			assert.Equal(t, "issues", id.d.EventType)
		})
	}
	// A good delivery keeps its target as before.
	h := http.Header{}
	h.Set(GitHubEventHeader, "issues")
	h.Set(GitHubDeliveryHeader, "d-1")
	id, err := identifyGitHub([]byte(`{}`), h)
	require.NoError(t, err)
	assert.Equal(t, "hook:", id.d.Target)
}
