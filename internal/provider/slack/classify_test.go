package slack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
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

// TestAnIncomingWebhookErrorNamesSlacksReason (found in review): Slack
// answers a failed incoming-webhook post with a status and a one-word
// reason in the body (api.slack.com/messaging/webhooks#handling_errors):
// "channel_is_archived", "no_service" (the webhook was removed),
// "invalid_token", "action_prohibited", "no_text"... The agent was told only
// "HTTP 410", which says neither what went wrong nor what to do, although
// Slack said it: slack-go drops the body.
func TestAnIncomingWebhookErrorNamesSlacksReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		reason string
	}{
		{http.StatusGone, "channel_is_archived"},
		{http.StatusNotFound, "no_service"},
		{http.StatusForbidden, "action_prohibited"},
		{http.StatusBadRequest, "no_text"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.reason))
			}))
			t.Cleanup(srv.Close)
			c := slack.New(slack.Config{
				WebhookURL: config.NewSecret(srv.URL + "/services/T000/B000/XXXXSECRET"),
				HTTPClient: &http.Client{Transport: httpx.New(httpx.Options{Provider: "slack"})},
			})
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: "#general", Text: "hi", Key: "k"})
			require.Error(t, err)
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.status, pe.Status)
			assert.False(t, pe.InDoubt)
			assert.Contains(t, err.Error(), tt.reason, "the error hides the reason Slack gave")
		})
	}
}

func TestAWebhookPostTheFakeRefusesNamesSlacksReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []fakesaas.Option
		fault      *fakesaas.Fault
		path       string // the webhook URL's path; the fake's own when empty
		wantStatus int
		wantCode   string
	}{
		{name: "a removed webhook is no_service", path: "/services/T000/B000/GONE",
			wantStatus: http.StatusNotFound, wantCode: "no_service"},
		{name: "a webhook whose channel was archived is channel_is_archived",
			opts:       []fakesaas.Option{fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0WEBHOOK", Name: "alerts", Archived: true})},
			wantStatus: http.StatusGone, wantCode: "channel_is_archived"},
		{name: "a webhook refused by the workspace's settings is action_prohibited",
			fault:      &fakesaas.Fault{Path: "/services/", Status: http.StatusForbidden},
			wantStatus: http.StatusForbidden, wantCode: "action_prohibited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New(tt.opts...)
			t.Cleanup(srv.Close)
			if tt.fault != nil {
				srv.Inject(*tt.fault)
			}
			url := srv.SlackWebhookURL()
			if tt.path != "" {
				url = srv.URL + tt.path
			}
			c := slack.New(slack.Config{WebhookURL: config.NewSecret(url),
				HTTPClient: &http.Client{Transport: httpx.New(httpx.Options{Provider: "slack"})}})
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: "#alerts", Text: "hi", Key: "k"})
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.wantStatus, pe.Status)
			assert.Equal(t, tt.wantCode, pe.Code)
			assert.False(t, pe.InDoubt, "%v", err)
			assert.Equal(t, fmt.Sprintf("slack incoming webhook: HTTP %d: %s", tt.wantStatus, tt.wantCode), err.Error())
			assert.Empty(t, srv.SlackMessages("C0WEBHOOK"))
		})
	}
}

func TestAWebhookAnswerThatIsNotAReasonWordShowsNothingOfItsBody(t *testing.T) {
	t.Parallel()
	const secret = "xxxxsecretpart"
	tests := []struct {
		name string
		body func(url string) string
	}{
		{"an HTML page", func(string) string { return "<html><body>Bad Gateway</body></html>" }},
		{"the webhook URL echoed back", func(url string) string { return "no such hook: " + url }},
		{"the webhook's secret as one word", func(string) string { return secret }},
		{"a word longer than any reason", func(string) string { return strings.Repeat("a", 300) }},
		{"words in upper case", func(string) string { return "Invalid_Token" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var url string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(tt.body(url)))
			}))
			t.Cleanup(srv.Close)
			url = srv.URL + "/services/t000/b000/" + secret
			c := slack.New(slack.Config{WebhookURL: config.NewSecret(url),
				HTTPClient: &http.Client{Transport: httpx.New(httpx.Options{Provider: "slack"})}})
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: "#general", Text: "hi", Key: "k"})
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.Empty(t, pe.Code)
			assert.Equal(t, "slack incoming webhook: HTTP 403", err.Error())
		})
	}
}

func TestAWebhookReasonLeavesTheRetryClassificationAsItWas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		body        string
		wantCode    string
		wantInDoubt bool
		wantHits    int32
	}{
		{name: "a 5xx that names a reason stays in doubt", status: http.StatusInternalServerError, body: "rollup_error",
			wantCode: "rollup_error", wantInDoubt: true, wantHits: 1},
		{name: "a 429 with Retry-After stays a rate limit, refused unprocessed", status: http.StatusTooManyRequests, body: "rate_limited",
			wantCode: "ratelimited", wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			c := slack.New(slack.Config{WebhookURL: config.NewSecret(srv.URL + "/services/T000/B000/XXXXSECRET"),
				HTTPClient: &http.Client{Transport: httpx.New(httpx.Options{Provider: "slack", MaxWait: time.Second})}})
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: "#general", Text: "hi", Key: "k"})
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.status, pe.Status)
			assert.Equal(t, tt.wantCode, pe.Code)
			assert.Equal(t, tt.wantInDoubt, pe.InDoubt, "%v", err)
			assert.Equal(t, tt.wantHits, hits.Load())
		})
	}
}
