package chain

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// Every error about a key says when it expires (README, Guarantees), the
// two commonest included: reused with other arguments, and still in
// progress.
func TestEveryKeyErrorSaysWhenTheKeyExpires(t *testing.T) {
	gh := map[string]string{"GITHUB_TOKEN": "ghp_x"}
	t.Run("reused with other arguments", func(t *testing.T) {
		b := setup(t, "sandbox", gh)
		_, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		_, err = b.call(ticket("idempotencyKey", "k1", "title", "Other"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "expires", "error: %v", err)
	})
	t.Run("in progress", func(t *testing.T) {
		b := setup(t, "sandbox", gh)
		now := time.Now()
		claim, err := idempotency.Policy{}.NewClaim("createTicket", "k1", NewCall(b.tool, ticket(), "", "", "").argsHash, "acme/app", "other", now)
		require.NoError(t, err)
		_, _, err = b.store.Claim(context.Background(), claim, now, func(string) bool { return true })
		require.NoError(t, err)
		_, err = b.call(ticket("idempotencyKey", "k1"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "expires", "error: %v", err)
	})
}
