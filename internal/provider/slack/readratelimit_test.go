package slack_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// A reconciliation's reads are rate limited too (conversations.history is
// tier 3, and 1/min for non-Marketplace apps). A 429 whose Retry-After is an
// HTTP date (which the README says is honoured) and longer than
// HTTP_MAX_WAIT comes back to slack-go, which fails to parse it as seconds;
// classify recognises that 429 only for the post (through its Attempt) and
// passes nil for reads, so the "checking slack failed" error the agent gets
// reads "strconv.ParseInt: parsing ...: invalid syntax" with no status, not
// that Slack rate limited the lookup.
func TestARateLimitedHistoryReadSaysItWasRateLimitedWhateverItsRetryAfterForm(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
	}))
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: httpx.New(httpx.Options{Provider: "slack", MaxWait: time.Second})}
	c := slack.New(slack.Config{BaseURL: srv.URL + "/api/", Token: config.NewSecret("xoxb-1-2-abc"), HTTPClient: hc})
	for _, channel := range []string{"C1", "#general"} { // history, and conversations.list first
		_, _, err := c.FindByKey(t.Context(), channel, "k", time.Now())
		require.Error(t, err)
		t.Logf("%s: %v", channel, err)
		var pe *provider.Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, http.StatusTooManyRequests, pe.Status, "the error should say the read was rate limited: %v", err)
		assert.Equal(t, "ratelimited", pe.Code)
		assert.False(t, strings.Contains(err.Error(), "ParseInt"), "slack-go's parse failure is no reason to show: %v", err)
	}
}
