package slack_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// TestA429WithAnHTTPDateRetryAfterIsNotInDoubt (found in review): a 429
// proves Slack did nothing, whatever form its Retry-After takes. The
// README says Retry-After is honoured "in seconds or HTTP date"; a 429 whose
// Retry-After is an HTTP date (as a proxy in front of Slack may send) and
// longer than HTTP_MAX_WAIT comes back to the client, and must not leave the
// key in doubt (in webhook mode that refuses the key for 24 hours).
func TestA429WithAnHTTPDateRetryAfterIsNotInDoubt(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"api", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			t.Cleanup(srv.Close)
			hc := &http.Client{Transport: httpx.New(httpx.Options{Provider: "slack", MaxWait: time.Second})}
			cfg := slack.Config{BaseURL: srv.URL + "/api/", HTTPClient: hc}
			if mode == "api" {
				cfg.Token = config.NewSecret("xoxb-1-2-abc")
			} else {
				cfg.WebhookURL = config.NewSecret(srv.URL + "/services/T/B/X")
			}
			c := slack.New(cfg)
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "hi", Key: "k"})
			require.Error(t, err)
			assert.Equal(t, int32(1), hits.Load())
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.False(t, pe.InDoubt, "a 429 is rejected unprocessed: %v", err)
			assert.Equal(t, http.StatusTooManyRequests, pe.Status, "the error should say it was a 429: %v", err)
		})
	}
}
