package chain

import (
	"context"
	"testing"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A panic in a tool (a bug) may come after the provider acted: the call's
// key is marked in doubt at once (not left "in progress" until its lease
// ends), the error says so, and the call still gets its terminal audit
// record. A panic before the idempotency middleware (a bug there) is the
// call's internal error, with its terminal record.
func TestAToolPanicLeavesItsKeyInDoubtAndIsAudited(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.tool.Run = func(ctx context.Context, c *Call) (any, error) {
		b.runs.Add(1)
		panic("nil map in the provider client")
	}
	_, err := b.call(ticket("idempotencyKey", "k-panic"))
	require.Error(t, err)
	assert.Equal(t, KindInDoubt, KindOf(err))
	assert.Contains(t, err.Error(), "internal error in saas-mcp")
	assert.Contains(t, err.Error(), "nil map in the provider client")
	assert.Equal(t, []string{"started", "failed"}, b.sink.statuses())
	row, ok, err := b.store.Get(context.Background(), "key:k-panic")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, idempotency.StateInDoubt, row.State)
}

func TestAPanicBeforeTheIdempotencyMiddlewareIsAnAuditedInternalError(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.handler = Wrap(func(ctx context.Context, c *Call) (Result, error) { panic("nil validator") }, Audit(b.sink, time.Now, discard))
	_, err := b.call(ticket())
	require.Error(t, err)
	assert.Equal(t, KindInternal, KindOf(err))
	assert.Contains(t, err.Error(), "nil validator")
	assert.Equal(t, []string{"started", "failed"}, b.sink.statuses())
}
