package slack_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// chat.postMessage reads a channel name case aside (Slack, and the fake),
// so "Deploys", "General" or "GENERAL", "CI", "DEV" (a name written with
// capitals, no '#') post to #deploys, #general, #ci, #dev. conversationID
// took them for a D- or G-ID by their first letter (found in review; then
// the all-capitals ones, in the review of the fix): history was asked for
// conversation "General", answered channel_not_found, and a key in doubt
// for it could never be reconciled. An ID is upper-case letters and
// digits, with a digit; the rest are looked up as names.
func TestAMessageToAChannelNameWrittenWithCapitalsIsFoundAfterItsAnswerWasLost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ channel, id string }{
		{"#Deploys", "C0DEPLOYS"}, // control: resolved by name before the fix too
		{"Deploys", "C0DEPLOYS"},
		{"General", "C0GENERAL"},
		{"GENERAL", "C0GENERAL"},
		{"CI", "C0CI"},
		{"DEV", "C0DEV"},
	} {
		t.Run(tt.channel, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t,
				fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0DEPLOYS", Name: "deploys"}),
				fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0GENERAL", Name: "general"}),
				fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0CI", Name: "ci"}),
				fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0DEV", Name: "dev"}),
			)
			since := time.Now()
			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Times: 1, Mode: fakesaas.CommitThenClose})
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: tt.channel, Text: "deploy done", Key: "k1", Claimed: since})
			require.True(t, isInDoubt(err), "the answer was lost: %v", err)
			msgs := srv.SlackMessages(tt.id)
			require.Len(t, msgs, 1, "Slack posted the message to %s", tt.id)

			got, found, err := c.FindByKey(t.Context(), tt.channel, "k1", since)
			require.NoError(t, err, "looking for the message posted to %q", tt.channel)
			require.True(t, found)
			assert.Equal(t, slack.Posted{Channel: tt.id, TS: msgs[0].TS, Via: slack.ViaAPI}, got)
		})
	}
}
