package slack_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

func isInDoubt(err error) bool { return provider.InDoubt(err) }

func TestFailuresAreClassified(t *testing.T) {
	t.Parallel()
	type env struct {
		srv *fakesaas.Server
		cfg slack.Config
		ctx context.Context
	}
	tests := []struct {
		name        string
		arrange     func(t *testing.T, e *env)
		channel     string // default C1
		find        bool   // FindByKey instead of PostMessage
		wantStatus  int
		wantCode    string
		wantInDoubt bool
	}{
		{name: "a bad token is not in doubt and names the code",
			arrange:    func(t *testing.T, e *env) { e.cfg.Token = config.NewSecret("xoxb-not-the-token") },
			wantStatus: 200, wantCode: "invalid_auth"},
		{name: "an unknown channel is not in doubt",
			arrange: func(t *testing.T, e *env) {}, channel: "C404",
			wantStatus: 200, wantCode: "channel_not_found"},
		{name: "a 404 is not in doubt",
			arrange:    func(t *testing.T, e *env) { e.cfg.BaseURL = e.srv.SlackAPIURL() + "x/" },
			wantStatus: 404},
		{name: "a 500 to a post is in doubt",
			arrange:    func(t *testing.T, e *env) { e.srv.Inject(fakesaas.Fault{Path: "/api/", Status: 500}) },
			wantStatus: 500, wantInDoubt: true},
		{name: "a 502 after the message went out is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/api/", Status: 502, Mode: fakesaas.CommitThenFail})
			},
			wantStatus: 502, wantInDoubt: true},
		{name: "a 429 was rejected unprocessed",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/api/", Status: 429, Header: http.Header{"Retry-After": {"3"}}})
			},
			wantStatus: 429, wantCode: "ratelimited"},
		{name: "internal_error may have been applied",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/api/", Status: 200, Body: `{"ok":false,"error":"internal_error"}`})
			},
			wantStatus: 200, wantCode: "internal_error", wantInDoubt: true},
		{name: "a connection closed after the message went out is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/api/", Mode: fakesaas.CommitThenClose})
			},
			wantInDoubt: true},
		{name: "a connection closed after the request was written is in doubt",
			arrange:     func(t *testing.T, e *env) { e.srv.Inject(fakesaas.Fault{Path: "/api/", Mode: fakesaas.Drop}) },
			wantInDoubt: true},
		{name: "a timeout while Slack holds the request is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/api/", Mode: fakesaas.CommitThenHang})
				e.cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
			},
			wantInDoubt: true},
		{name: "a refused connection is not in doubt",
			arrange: func(t *testing.T, e *env) { e.cfg.BaseURL = "http://" + freeAddr(t) + "/api/" }},
		{name: "a context cancelled before sending is not in doubt",
			arrange: func(t *testing.T, e *env) { e.ctx = cancelled(e.ctx) }},
		{name: "a webhook 500 is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.cfg.Token, e.cfg.WebhookURL = config.Secret{}, config.NewSecret(e.srv.SlackWebhookURL())
				e.srv.Inject(fakesaas.Fault{Path: "/services/", Status: 500})
			},
			wantStatus: 500, wantInDoubt: true},
		{name: "a refused webhook is not in doubt",
			arrange: func(t *testing.T, e *env) {
				e.cfg.Token = config.Secret{}
				e.cfg.WebhookURL = config.NewSecret("http://" + freeAddr(t) + fakesaas.SlackWebhookPath)
			}},
		{name: "a failed history read is never in doubt",
			arrange:    func(t *testing.T, e *env) { e.srv.Inject(fakesaas.Fault{Path: "/api/", Status: 500}) },
			find:       true,
			wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New(fakesaas.WithSlackChannels("C1"))
			t.Cleanup(srv.Close)
			channel := tt.channel
			if channel == "" {
				channel = "C1"
			}
			e := &env{srv: srv, ctx: t.Context(), cfg: slack.Config{
				BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken),
				HTTPClient: &http.Client{Timeout: 5 * time.Second},
			}}
			tt.arrange(t, e)
			c := slack.New(e.cfg)
			var err error
			if tt.find {
				_, _, err = c.FindByKey(e.ctx, channel, "k", time.Now())
			} else {
				_, err = c.PostMessage(e.ctx, slack.Message{Channel: channel, Text: "x", Key: "k"})
			}
			t.Logf("error: %v", err)
			var pe *provider.Error
			require.True(t, errors.As(err, &pe), "want *provider.Error, got %T %v", err, err)
			assert.Equal(t, "slack", pe.Provider)
			assert.Equal(t, tt.wantStatus, pe.Status)
			assert.Equal(t, tt.wantCode, pe.Code)
			assert.Equal(t, tt.wantInDoubt, pe.InDoubt, "%v", err)
			for _, secret := range []string{e.cfg.Token.Reveal(), e.cfg.WebhookURL.Reveal()} {
				if secret != "" {
					assert.NotContains(t, err.Error(), secret)
				}
			}
			assert.False(t, strings.Contains(err.Error(), "/services/T000"), "the webhook path is a secret: %v", err)
		})
	}
}
