package chain

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A panic in a tool (a bug) becomes the call's internal error, which the
// MCP layer redacts like any other, and the call still gets its terminal
// audit record.
func TestAToolPanicIsAnAuditedInternalError(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.tool.Run = func(ctx context.Context, c *Call) (any, error) {
		b.runs.Add(1)
		panic("nil map in the provider client")
	}
	_, err := b.call(ticket())
	require.Error(t, err)
	assert.Equal(t, KindInternal, KindOf(err))
	assert.Contains(t, err.Error(), "internal error in saas-mcp")
	assert.Contains(t, err.Error(), "nil map in the provider client")
	assert.Equal(t, []string{"started", "failed"}, b.sink.statuses())
}
