package mcpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/tools"
)

// No secret reaches a tool error (README, chain step 4): whatever error the
// chain returns, the server redacts it before it becomes the tool result,
// both a configured secret and a known token shape.
func TestAToolErrorNeverCarriesASecret(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-signing-value-0123456789"
	const token = "xoxb-1234567890-abcdefghijklmnop"
	s := New(Options{
		Name: "test", Version: "1",
		Tools: []tools.Definition{{MCP: mcp.NewTool("act"), Chain: &chain.Tool{Name: "act", Provider: "test", Action: "act",
			Run: func(context.Context, *chain.Call) (any, error) {
				return nil, errors.New("provider said: bad credential " + secret + " and " + token)
			}}}},
		Actor: "tester", Redactor: redact.New(secret), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	text, isErr := call(t, context.Background(), s, callOf(`1`))
	require.True(t, isErr)
	require.Contains(t, text, "bad credential", "the error is the tool's")
	assert.NotContains(t, text, secret)
	assert.NotContains(t, text, token)
}
