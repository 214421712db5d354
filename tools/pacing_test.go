package tools

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// TestSlackPacingIsPerChannelWhateverTheChannelIsCalled: the README
// promises chat.postMessage paced about one per second per channel. Three
// messages to #general, named "#general", "general" and "#General", must
// go out a second apart; through an incoming webhook, which posts to its
// own channel whatever the call names, messages "to" different channels
// share one pace. The limit key was the raw argument, so none waited
// (found in review).
func TestSlackPacingIsPerChannelWhateverTheChannelIsCalled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		webhook  bool
		channels []string
		waits    int
	}{
		{"one channel named three ways", false, []string{"#general", "general", "#General"}, 2},
		{"three channels", false, []string{"#general", "#random", "C0DEPLOYS"}, 0},
		{"an incoming webhook, whatever the channel", true, []string{"#general", "#random", "C0DEPLOYS"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New()
			t.Cleanup(srv.Close)
			var mu sync.Mutex
			var waits []time.Duration
			tr := httpx.New(httpx.Options{Provider: "slack", Limits: httpx.SlackLimits(time.Second),
				Sleep: func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					waits = append(waits, d)
					mu.Unlock()
					return nil
				}})
			cfg := slack.Config{BaseURL: srv.SlackAPIURL(), HTTPClient: &http.Client{Transport: tr}}
			creds := map[string]config.Secret{}
			if tt.webhook {
				cfg.WebhookURL = config.NewSecret(srv.SlackWebhookURL())
				creds[config.SlackWebhookURL] = cfg.WebhookURL
			} else {
				cfg.Token = config.NewSecret(fakesaas.SlackToken)
				creds[config.SlackBotToken] = cfg.Token
			}
			def, err := SendMessage(Deps{Slack: slack.New(cfg)})
			require.NoError(t, err)
			for i, ch := range tt.channels {
				c := chain.NewCall(def.Chain, map[string]any{"channel": ch, "text": "m", "idempotencyKey": "k" + string(rune('a'+i))}, "t", "sandbox", "c")
				c.Credentials = creds
				_, err := def.Chain.Run(t.Context(), c)
				require.NoError(t, err)
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Len(t, waits, tt.waits, "waits: %v", waits)
		})
	}
}
