package slack_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// attempt.Scrubber.Error promises "the unwrapped chain is as clean as the
// text": it scrubs *url.Error's URL in place. But slack-go wraps the
// net/http error as fmt.Errorf("failed to post webhook: %w", err), whose
// message was rendered, webhook URL included, before the scrub; every
// error between provider.Error and the *url.Error still quotes the secret.
func TestEveryErrorInAFailedWebhookPostsChainIsFreeOfTheWebhookURL(t *testing.T) {
	t.Parallel()
	const secretPath = "/services/T0SECRET/B0SECRET/abcdefghijklmnopqrstuvwx"
	hook := "http://" + freeAddr(t) + secretPath // refused: no answer, url.Error
	c := slack.New(slack.Config{WebhookURL: config.NewSecret(hook), HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	_, err := c.PostMessage(t.Context(), slack.Message{Channel: "#general", Text: "hi", Key: "k"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "abcdefghijklmnopqrstuvwx", "the top-level text is scrubbed")
	depth := 0
	for e := err; e != nil; e = errors.Unwrap(e) {
		assert.False(t, strings.Contains(e.Error(), "abcdefghijklmnopqrstuvwx"),
			"the error at depth %d (%T) quotes the webhook URL's secret: %s", depth, e, e.Error())
		depth++
	}
}
