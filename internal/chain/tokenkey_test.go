package chain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// TestAKeyHoldingAProviderCredentialIsRefusedUnlessTheStoreHoldsIt: a key
// comes back in the tool's result (not redacted: the agent must be able to
// send it again) and goes to the provider, so a key that holds a real
// credential (a pasted token) is refused, with nothing sent (found in
// review). Keys that only look like one in part ("task_test_42",
// "weighs_1") are ordinary keys (found in a later review, when the check
// reused the redactor's looser shapes). A credential-shaped key the store
// already holds is a retry of a call accepted before (an upgrade), and
// replays: it is never told to use another key, which would act twice.
func TestAKeyHoldingAProviderCredentialIsRefusedUnlessTheStoreHoldsIt(t *testing.T) {
	t.Parallel()
	const token = "ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789"
	tests := []struct {
		name    string
		key     string
		stored  bool // a call with the key was accepted before
		refused bool
	}{
		{"a GitHub token", token, false, true},
		{"a Stripe live key", "sk_live_51Hx9kQm2vN8pZr4tYw6AbCd", false, true},
		{"a token after a separator", "retry:" + token, false, true},
		{"a token the store holds replays", token, true, false},
		{"a test key's prefix mid-word", "task_test_42", false, false},
		{"a GitHub prefix mid-word", "weighs_1", false, false},
		{"a live key's prefix mid-word", "bookmark_live_9", false, false},
		{"a short prefix-shaped key", "sk_test_42", false, false},
		{"an ordinary key", "deploy-42", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sink := &memSink{}
			store := newMemStore()
			idem := &Idempotency{Store: store, Owner: "me", Alive: func(string) bool { return true }, Now: time.Now, Audit: sink, Log: discard}
			ran := 0
			tool := &Tool{Name: "sendMessage", Provider: "slack", Action: "post_message",
				Run: func(context.Context, *Call) (any, error) { ran++; return map[string]any{"ts": "1.2"}, nil }}
			args := func() map[string]any {
				return map[string]any{"channel": "C1", "text": "x", idempotency.KeyField: tt.key}
			}
			if tt.stored {
				c := NewCall(tool, args(), "a", "sandbox", "old")
				now := time.Now()
				want, err := idem.Policy.NewClaim(tool.Name, c.Key, c.argsHash, targetOf(c), "old-owner", now)
				require.NoError(t, err)
				_, _, err = store.Claim(ctx, want, now, idem.Alive)
				require.NoError(t, err)
				require.NoError(t, store.Commit(ctx, want.Key, "old-owner", json.RawMessage(`{"ts":"1.1"}`)))
			}
			h := Wrap(Final, Audit(sink, time.Now, discard), idem.Middleware())
			res, err := h(ctx, NewCall(tool, args(), "a", "sandbox", "c"))
			if tt.refused {
				require.Error(t, err)
				assert.Equal(t, KindInvalid, KindOf(err))
				assert.Contains(t, err.Error(), "idempotencyKey")
				assert.NotContains(t, err.Error(), tt.key)
				assert.Zero(t, ran, "nothing was sent")
				assert.Equal(t, []string{audit.StatusStarted, audit.StatusRejected}, sink.statuses())
				return
			}
			require.NoError(t, err)
			if tt.stored {
				assert.True(t, res.Replayed)
				assert.Zero(t, ran, "replayed, not sent again")
				return
			}
			assert.Equal(t, 1, ran)
		})
	}
}
