package chain

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// A panic in the tool's Reconcile (a bug) is a check that failed: nothing
// is sent, the key goes back in doubt (not "in progress" for the rest of
// the lease), and the next call checks again.
func TestAPanicInReconcileLeavesTheKeyInDoubt(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.tool.Run = func(ctx context.Context, c *Call) (any, error) { panic("after the send") }
	_, err := b.call(ticket("idempotencyKey", "k-rp"))
	require.Equal(t, KindInDoubt, KindOf(err))

	b.tool.Reconcile = func(ctx context.Context, c *Call, since time.Time) (any, bool, error) {
		panic("nil page in the reconcile scan")
	}
	_, err = b.call(ticket("idempotencyKey", "k-rp"))
	require.Error(t, err)
	assert.Equal(t, KindInDoubt, KindOf(err))
	assert.Contains(t, err.Error(), "nothing was sent")

	row, ok, err := b.store.Get(context.Background(), "key:k-rp")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, idempotency.StateInDoubt, row.State, "the key must go back in doubt, as after a panic in Run")

	b.tool.Reconcile = func(ctx context.Context, c *Call, since time.Time) (any, bool, error) { return nil, true, nil }
	_, err = b.call(ticket("idempotencyKey", "k-rp"))
	if err != nil {
		assert.NotContains(t, err.Error(), "still in progress", "nothing is running with this key")
	}
}
