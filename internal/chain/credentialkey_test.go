package chain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// countingEchoTool is a sendMessage tool that counts its sends and echoes
// the key, as the real tool's result does.
func countingEchoTool(ran *int) *Tool {
	return &Tool{Name: "sendMessage", Provider: "slack", Action: "post_message",
		Run: func(_ context.Context, c *Call) (any, error) {
			*ran++
			return map[string]any{"ts": "1.2", "idempotencyKey": c.Key}, nil
		}}
}

// A credential joined to a word by "_" or a digit ("retry_ghp_...",
// "order_sk_live_...", "2xoxb-...") is masked by the redactor (the audit log
// shows [REDACTED]); HoldsToken's word-start rule missed it, so the call
// was sent and its result echoed the credential raw (found in review).
func TestACredentialJoinedToAWordByAnUnderscoreOrADigitIsRefused(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"retry_ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789",
		"order_sk_live_51Hx9kQm2vN8pZr4tYw6AbCd",
		"2xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
	} {
		t.Run(key[:8], func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, key, redact.New().String(key), "the redactor masks it: the audit log shows no key")
			sink := &memSink{}
			idem := &Idempotency{Store: newMemStore(), Owner: "me", Alive: func(string) bool { return true }, Now: time.Now, Audit: sink, Log: discard}
			ran := 0
			h := Wrap(Final, Audit(sink, time.Now, discard), idem.Middleware())
			res, err := h(context.Background(), NewCall(countingEchoTool(&ran),
				map[string]any{"channel": "C1", "text": "x", idempotency.KeyField: key}, "a", "sandbox", "c"))
			b, _ := json.Marshal(res.Value)
			if assert.Error(t, err, "accepted; the result echoes the credential raw: %s", b) {
				assert.Equal(t, KindInvalid, KindOf(err))
			}
			assert.Zero(t, ran, "sent to the provider with the credential as its key")
		})
	}
}

// A credential key the store holds is let through as a retry, but only
// while its row has not expired (Store.Get returns expired rows until
// Prune): an expired key is forgotten, Claim replaces the row and the call
// acts as a new one, which is not the retry the exemption is for (found in
// review).
func TestAnExpiredRowOfACredentialKeyDoesNotExemptANewCall(t *testing.T) {
	t.Parallel()
	const token = "ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789"
	ctx := context.Background()
	sink := &memSink{}
	store := newMemStore()
	idem := &Idempotency{Store: store, Owner: "me", Alive: func(string) bool { return true }, Now: time.Now, Audit: sink, Log: discard}
	ran := 0
	tool := countingEchoTool(&ran)
	args := map[string]any{"channel": "C1", "text": "x", idempotency.KeyField: token}
	// Accepted two days ago (before the upgrade), expired a day ago, not yet pruned.
	old := time.Now().Add(-48 * time.Hour)
	c := NewCall(tool, args, "a", "sandbox", "old")
	want, err := idem.Policy.NewClaim(tool.Name, c.Key, c.argsHash, targetOf(c), "old-owner", old)
	require.NoError(t, err)
	_, _, err = store.Claim(ctx, want, old, idem.Alive)
	require.NoError(t, err)
	require.NoError(t, store.Commit(ctx, want.Key, "old-owner", json.RawMessage(`{"ts":"1.1"}`)))
	row, found, err := store.Get(ctx, want.Key)
	require.NoError(t, err)
	require.True(t, found)
	require.True(t, row.Expired(time.Now()), "the row is expired")

	h := Wrap(Final, Audit(sink, time.Now, discard), idem.Middleware())
	res, err := h(ctx, NewCall(tool, args, "a", "sandbox", "c"))
	b, _ := json.Marshal(res.Value)
	assert.Error(t, err, "a new call with a token key was accepted: %s (replayed=%v)", b, res.Replayed)
	assert.Zero(t, ran, "sent to the provider with the token as its key")
}
