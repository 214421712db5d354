package tools

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// A replayed record names a message by how the first call sent it (the
// claim's via), not by guessing from its ts: a chat.postMessage answer that
// is ok but carries no ts (slack-go returns it without error) was sent by
// the API, and its replayed record must not claim an incoming webhook
// posted it (found in review: describeSent guessed from the empty ts).
func TestAReplayOfAnAPIMessageWithoutTsIsNotLabelledWebhook(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0GENERAL"}`)
	}))
	t.Cleanup(api.Close)
	def := sendMessageWith(t, slack.Config{BaseURL: api.URL + "/api/", Token: config.NewSecret("xoxb-review")})
	s := &sink{}
	run := chain.Wrap(chain.Final, chain.Audit(s, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil))))
	c := chain.NewCall(def.Chain, map[string]any{"channel": "C0GENERAL", "text": "hi", "idempotencyKey": "k1"}, "t", "sandbox", "c1")
	c.Credentials = map[string]config.Secret{config.SlackBotToken: config.NewSecret("xoxb-review")}
	res, err := run(context.Background(), c)
	require.NoError(t, err)
	term := s.recs[len(s.recs)-1]
	require.Equal(t, audit.StatusSucceeded, term.Status)
	require.Equal(t, "C0GENERAL", term.Details["channel"], "first record: sent by the API, named by channel: %v", term.Details)
	require.NotContains(t, term.Details, "via")

	var stored json.RawMessage = res.Value
	replay := def.Chain.Describe(stored, def.Chain.Via(c)) // what the claim stored as its via
	assert.NotEqual(t, "incoming-webhook", replay["via"],
		"the replayed record says an incoming webhook posted a message the API posted; first %v, replay %v", term.Details, replay)
}
