package slack_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// A channel name given without '#' but with a capital first letter is
// accepted by chat.postMessage (Slack, and the fake, read names case
// aside, and "#Deploys" is resolved case aside by conversationID), yet
// conversationID takes "Deploys", "General" for a D- or G-ID by their first letter, so the message, once its answer is lost, can
// never be found: every retry fails "checking slack failed".
func TestAMessageToACapitalisedChannelNameWithoutHashIsFoundAfterItsAnswerWasLost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ channel, id string }{
		{"#Deploys", "C0DEPLOYS"}, // control: resolved today
		{"Deploys", "C0DEPLOYS"},
		{"General", "C0GENERAL"},
	} {
		t.Run(tt.channel, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t,
				fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0DEPLOYS", Name: "deploys"}),
				fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0GENERAL", Name: "general"}),
			)
			since := time.Now()
			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Times: 1, Mode: fakesaas.CommitThenClose})
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: tt.channel, Text: "deploy done", Key: "k1", Claimed: since})
			require.True(t, isInDoubt(err), "the answer was lost: %v", err)
			msgs := srv.SlackMessages(tt.id)
			require.Len(t, msgs, 1, "Slack posted the message to #%s", tt.id)

			got, found, err := c.FindByKey(t.Context(), tt.channel, "k1", since)
			require.NoError(t, err, "looking for the message posted to %q", tt.channel)
			require.True(t, found)
			assert.Equal(t, slack.Posted{Channel: tt.id, TS: msgs[0].TS, Via: slack.ViaAPI}, got)
		})
	}
}
