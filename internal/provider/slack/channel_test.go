package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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

// lookups counts the requests that resolve a channel to its ID.
func lookups(srv *fakesaas.Server) int {
	return srv.Count("POST", "/api/conversations.list") + srv.Count("POST", "/api/conversations.open")
}

// TestAMessageWhoseAnswerWasLostIsFoundHoweverItsChannelWasNamed loses the
// answer to a message and to a thread reply, sent to a channel given as
// chat.postMessage accepts it, and finds both by key: history takes only
// conversation IDs, so a name or a user ID must be resolved first, and the
// result names the ID, as a normal call's does.
func TestAMessageWhoseAnswerWasLostIsFoundHoweverItsChannelWasNamed(t *testing.T) {
	t.Parallel()
	// More channels than one conversations.list page holds, the one sought last.
	var crowded []fakesaas.Option
	for i := range 1000 {
		crowded = append(crowded, fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: fmt.Sprintf("C%04d", i), Name: fmt.Sprintf("team-%04d", i)}))
	}
	crowded = append(crowded, fakesaas.WithSlackChannel(fakesaas.SlackChannel{ID: "C0LAST", Name: "last"}))
	tests := []struct {
		name    string
		opts    []fakesaas.Option
		channel string
		// wantID is the conversation the message lands in; empty for a
		// user's DM, whose ID the fake picks.
		wantID      string
		wantLookups int // for both finds
	}{
		{"a channel ID is read as given", nil, "C0GENERAL", "C0GENERAL", 0},
		{"a #name is looked up in the channel list", nil, "#general", "C0GENERAL", 2},
		{"a name without the # is looked up too", nil, "deploys", "C0DEPLOYS", 2},
		{"a private channel's name is looked up too", nil, "#incidents", "G0INCIDENTS", 2},
		{"a name on the channel list's second page is found", crowded, "#last", "C0LAST", 4},
		{"a user ID is read as the app's DM with that user", nil, "U0ALICE", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, tt.opts...)
			since := time.Now()
			lose := func(m slack.Message) {
				t.Helper()
				srv.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Times: 1, Mode: fakesaas.CommitThenClose})
				_, err := c.PostMessage(t.Context(), m)
				require.True(t, isInDoubt(err), "the answer was lost: %v", err)
			}

			lose(slack.Message{Channel: tt.channel, Text: "deploy done", Key: "k-parent"})
			msgs := srv.SlackMessages("")
			require.Len(t, msgs, 1)
			id, parent := msgs[0].Channel, msgs[0].TS
			if tt.wantID != "" {
				assert.Equal(t, tt.wantID, id)
			} else {
				assert.True(t, strings.HasPrefix(id, "D"), "a DM: %s", id)
			}
			got, found, err := c.FindByKey(t.Context(), tt.channel, "k-parent", since)
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, slack.Posted{Channel: id, TS: parent, Via: slack.ViaAPI}, got)

			lose(slack.Message{Channel: tt.channel, Text: "details", ThreadTS: parent, Key: "k-reply"})
			msgs = srv.SlackMessages(id)
			require.Len(t, msgs, 2)
			got, found, err = c.FindReplyByKey(t.Context(), tt.channel, parent, "k-reply", since)
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, slack.Posted{Channel: id, TS: msgs[1].TS, Via: slack.ViaAPI}, got)

			assert.Equal(t, tt.wantLookups, lookups(srv))
		})
	}
}

// TestFindingByKeyInAChannelThatCannotBeResolvedFailsWithoutReadingHistory
// checks that a name no channel has, or a user that does not exist, is an
// error that says so: the message cannot be looked for, so whether it was
// sent stays unknown.
func TestFindingByKeyInAChannelThatCannotBeResolvedFailsWithoutReadingHistory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []fakesaas.Option
		channel  string
		wantIs   error  // the error FindByKey wraps, if any
		wantCode string // the Slack error code, if any
	}{
		{"a #name no channel has", nil, "#nosuch", slack.ErrChannelNotFound, ""},
		{"a bare name no channel has", nil, "nosuch", slack.ErrChannelNotFound, ""},
		{"a user who does not exist", []fakesaas.Option{fakesaas.WithSlackUsers("U0ALICE")}, "U0NOBODY", nil, "user_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t, tt.opts...)
			finds := map[string]func() error{
				"FindByKey": func() error {
					_, _, err := c.FindByKey(t.Context(), tt.channel, "k", time.Now())
					return err
				},
				"FindReplyByKey": func() error {
					_, _, err := c.FindReplyByKey(t.Context(), tt.channel, "1712345678.000100", "k", time.Now())
					return err
				},
			}
			for name, find := range finds {
				err := find()
				require.Error(t, err, name)
				if tt.wantIs != nil {
					require.ErrorIs(t, err, tt.wantIs, name)
					assert.Contains(t, err.Error(), "#nosuch", "%s: the error names the channel", name)
				}
				if tt.wantCode != "" {
					var pe *provider.Error
					require.ErrorAs(t, err, &pe, name)
					assert.Equal(t, tt.wantCode, pe.Code, name)
					assert.False(t, pe.InDoubt, name)
				}
			}
			assert.Zero(t, srv.Count("", "/api/conversations.history"))
			assert.Zero(t, srv.Count("", "/api/conversations.replies"))
		})
	}
}

// TestResolvingAChannelIsARepeatableRead makes the lookup of a channel's ID
// meet a 503 once: the lookup is a POST, but a read, so the retrying
// transport sends it again and the message is found.
func TestResolvingAChannelIsARepeatableRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		channel string
		path    string
	}{
		{"a channel name's conversations.list", "#general", "/api/conversations.list"},
		{"a user's conversations.open", "U0ALICE", "/api/conversations.open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New()
			t.Cleanup(srv.Close)
			transport := httpx.New(httpx.Options{
				Provider: "slack", MaxAttempts: 2,
				Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
			})
			c := slack.New(slack.Config{
				BaseURL: srv.SlackAPIURL(), Token: config.NewSecret(fakesaas.SlackToken),
				HTTPClient: &http.Client{Transport: transport, Timeout: 5 * time.Second},
			})
			since := time.Now()
			_, err := c.PostMessage(t.Context(), slack.Message{Channel: tt.channel, Text: "x", Key: "k"})
			require.NoError(t, err)

			srv.Inject(fakesaas.Fault{Method: "POST", Path: tt.path, Times: 1, Status: http.StatusServiceUnavailable})
			_, found, err := c.FindByKey(t.Context(), tt.channel, "k", since)
			require.NoError(t, err)
			assert.True(t, found)
			assert.Equal(t, 2, srv.Count("POST", tt.path), "the lookup was sent again")
		})
	}
}
