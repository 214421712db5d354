package webhook

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// A delivery whose signature checks out but which cannot be identified is
// refused 400. Its "rejected" record must not call it unverified: it names
// the event type and target when they could be read, as action
// webhook.<event type> asks, and webhook.malformed when the type could not
// (found in review: a signed Slack event_callback without event_id was
// audited as webhook.unverified, target the URL path).
func TestAVerifiedButMalformedDeliveryIsAuditedWithWhatCouldBeRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		req        func(t *testing.T, url string) *http.Request
		wantAction string
		wantTarget string
	}{
		{"slack event_callback without event_id", func(t *testing.T, url string) *http.Request {
			return slackRequest(t, url, []byte(`{"type":"event_callback","team_id":"T1","event":{"type":"message","channel":"C2"}}`))
		}, "webhook.event_callback", "T1/C2"},
		{"slack JSON without a type", func(t *testing.T, url string) *http.Request {
			return slackRequest(t, url, []byte(`{"team_id":"T1"}`))
		}, "webhook.malformed", "/webhooks/slack"},
		{"stripe event whose id is not evt_", func(t *testing.T, url string) *http.Request {
			return stripeRequest(t, url, []byte(`{"id":"xx_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_9"}}}`))
		}, "webhook.payment_intent.succeeded", "pi_9"},
		{"stripe body that is not JSON", func(t *testing.T, url string) *http.Request {
			return stripeRequest(t, url, []byte(`not json`))
		}, "webhook.malformed", "/webhooks/stripe"},
		{"github delivery guid with a colon", func(t *testing.T, url string) *http.Request {
			return githubRequest(t, url, "a:b", []byte(`{}`), "gh-secret")
		}, "webhook.issues", "hook:42"}, // its hook id could be read
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			code, _ := do(t, tc.req(t, b.url))
			require.Equal(t, http.StatusBadRequest, code)
			recs := b.sink.byStatus(audit.StatusRejected)
			require.Len(t, recs, 1)
			assert.Equal(t, "verified but malformed: no usable event id or type", recs[0].Error)
			assert.Equal(t, tc.wantAction, recs[0].Action)
			assert.Equal(t, tc.wantTarget, recs[0].Target)
		})
	}
}
