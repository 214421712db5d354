package slack_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
)

// setup returns a fake and a bot-token client pointed at it.
func setup(t *testing.T, opts ...fakesaas.Option) (*fakesaas.Server, slack.Client) {
	t.Helper()
	srv := fakesaas.New(opts...)
	t.Cleanup(srv.Close)
	c := slack.New(slack.Config{
		BaseURL:    srv.SlackAPIURL(),
		Token:      config.NewSecret(fakesaas.SlackToken),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	return srv, c
}

func TestPostMessageSendsTextThreadAndKeyMetadata(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	parent, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "deploy done"})
	require.NoError(t, err)
	assert.Equal(t, "C1", parent.Channel)
	assert.Equal(t, slack.ViaAPI, parent.Via)
	assert.NotEmpty(t, parent.TS)

	reply, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "details", ThreadTS: parent.TS, Key: "key-1"})
	require.NoError(t, err)

	msgs := srv.SlackMessages("C1")
	require.Len(t, msgs, 2)
	assert.Nil(t, msgs[0].Metadata, "no key, no metadata")
	assert.Equal(t, reply.TS, msgs[1].TS)
	assert.Equal(t, parent.TS, msgs[1].ThreadTS)
	assert.Equal(t, "details", msgs[1].Text)
	require.NotNil(t, msgs[1].Metadata)
	assert.Equal(t, slack.MetadataEventType, msgs[1].Metadata.EventType)
	assert.Equal(t, "key-1", msgs[1].Metadata.EventPayload[slack.MetadataKeyField])
}

func TestWebhookOnlySendsButCannotFind(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	c := slack.New(slack.Config{WebhookURL: config.NewSecret(srv.SlackWebhookURL())})

	p, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "hello", Key: "k"})
	require.NoError(t, err)
	assert.Equal(t, slack.Posted{Channel: "C1", Via: slack.ViaWebhook}, p)
	require.Len(t, srv.SlackMessages(""), 1)
	assert.Equal(t, "hello", srv.SlackMessages("")[0].Text)

	_, _, err = c.FindByKey(t.Context(), "C1", "k", time.Now())
	require.ErrorIs(t, err, slack.ErrNoHistory)
}

func TestAClientWithoutCredentialsFailsEachCall(t *testing.T) {
	t.Parallel()
	c := slack.New(slack.Config{BaseURL: "http://127.0.0.1:1/api/"})
	_, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "x"})
	require.ErrorIs(t, err, slack.ErrNoCredential)
	_, _, err = c.FindByKey(t.Context(), "C1", "k", time.Now())
	require.ErrorIs(t, err, slack.ErrNoCredential)
}

func TestFindByKeyFindsTheMessageOnlyOnceItWasSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fakesaas.Mode
	}{
		{"after Slack applied it and answered 500", fakesaas.CommitThenFail},
		{"after Slack applied it and dropped the connection", fakesaas.CommitThenClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			since := time.Now()
			_, found, err := c.FindByKey(t.Context(), "C1", "k-lost", since)
			require.NoError(t, err)
			assert.False(t, found, "nothing was sent yet")

			srv.Inject(fakesaas.Fault{Method: "POST", Path: "/api/chat.postMessage", Times: 1, Mode: tt.fault})
			_, err = c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "x", Key: "k-lost"})
			require.Error(t, err)
			require.True(t, isInDoubt(err), "the answer was lost: %v", err)

			p, found, err := c.FindByKey(t.Context(), "C1", "k-lost", since)
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, srv.SlackMessages("C1")[0].TS, p.TS)
			assert.Equal(t, "C1", p.Channel)
		})
	}
}

func TestFindByKeyMatchesOnlyItsKeyAndLooksInThreadsAndPages(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	since := time.Now()
	parent, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "parent", Key: "k-parent"})
	require.NoError(t, err)
	reply, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "reply", ThreadTS: parent.TS, Key: "k-reply"})
	require.NoError(t, err)
	for i := range 210 { // more than one history page
		_, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "noise", Key: fmt.Sprint("noise-", i)})
		require.NoError(t, err)
	}

	got, found, err := c.FindByKey(t.Context(), "C1", "k-parent", since)
	require.NoError(t, err)
	require.True(t, found, "the oldest message is on the second page")
	assert.Equal(t, parent.TS, got.TS)

	got, found, err = c.FindByKey(t.Context(), "C1", "k-reply", since)
	require.NoError(t, err)
	require.True(t, found, "a thread reply is found through its parent")
	assert.Equal(t, reply.TS, got.TS)

	_, found, err = c.FindByKey(t.Context(), "C1", "k-other", since)
	require.NoError(t, err)
	assert.False(t, found)

	_, found, err = c.FindByKey(t.Context(), "C2", "k-parent", since)
	require.NoError(t, err)
	assert.False(t, found, "another channel")
	assert.Positive(t, srv.Count("POST", "/api/conversations.replies"))
}

func TestFindReplyByKeyFindsAReplyInAThreadOlderThanTheWindow(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now().Add(-time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, c := setup(t, fakesaas.WithClock(clock))
	parent, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "old parent", Key: "k-parent"})
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(30 * time.Minute)
	mu.Unlock()
	since := clock()
	reply, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "late reply", ThreadTS: parent.TS, Key: "k-late"})
	require.NoError(t, err)

	_, found, err := c.FindByKey(t.Context(), "C1", "k-late", since)
	require.NoError(t, err)
	assert.False(t, found, "the history scan does not reach a thread whose parent is older than since")

	got, found, err := c.FindReplyByKey(t.Context(), "C1", parent.TS, "k-late", since)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, reply.TS, got.TS)
	_, found, err = c.FindReplyByKey(t.Context(), "C1", parent.TS, "k-other", since)
	require.NoError(t, err)
	assert.False(t, found)
}

func TestFindByKeyIgnoresMessagesOlderThanTheWindow(t *testing.T) {
	t.Parallel()
	now := time.Now()
	_, c := setup(t, fakesaas.WithClock(func() time.Time { return now }))
	_, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "old", Key: "k"})
	require.NoError(t, err)

	_, found, err := c.FindByKey(t.Context(), "C1", "k", now.Add(14*time.Minute))
	require.NoError(t, err)
	assert.True(t, found, "15 minutes of clock skew are allowed")
	_, found, err = c.FindByKey(t.Context(), "C1", "k", now.Add(16*time.Minute))
	require.NoError(t, err)
	assert.False(t, found, "older than since less the skew")
}

// TestFindByKeyFindsOnlyTheMessageOfItsOwnClaim: a key that expired and was
// claimed again sends its key again, so the metadata names the claim too,
// and a retry of the later life takes no message of the earlier one for
// its own; a message sent before claims were recorded still matches on the
// key alone.
func TestFindByKeyFindsOnlyTheMessageOfItsOwnClaim(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	first := time.Now().Add(-2 * time.Second)
	second := first.Add(time.Second)
	sent, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "first life", Key: "k", Claimed: first})
	require.NoError(t, err)
	msgs := srv.SlackMessages("C1")
	require.Len(t, msgs, 1)
	assert.Equal(t, map[string]any{slack.MetadataKeyField: "k", slack.MetadataClaimField: strconv.FormatInt(first.Unix(), 10)}, msgs[0].Metadata.EventPayload,
		"the claim in whole Unix seconds beside the key")

	got, found, err := c.FindByKey(t.Context(), "C1", "k", first)
	require.NoError(t, err)
	require.True(t, found, "its own claim")
	assert.Equal(t, sent.TS, got.TS)

	_, found, err = c.FindByKey(t.Context(), "C1", "k", second)
	require.NoError(t, err)
	assert.False(t, found, "a later life of the key takes no message of the earlier one")
	_, found, err = c.FindReplyByKey(t.Context(), "C1", sent.TS, "k", second)
	require.NoError(t, err)
	assert.False(t, found)

	legacy, err := c.PostMessage(t.Context(), slack.Message{Channel: "C1", Text: "no claim", Key: "k-old"})
	require.NoError(t, err)
	got, found, err = c.FindByKey(t.Context(), "C1", "k-old", second)
	require.NoError(t, err)
	require.True(t, found, "a message that names no claim matches on the key alone")
	assert.Equal(t, legacy.TS, got.TS)
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func cancelled(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	return ctx
}
