package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
)

func TestTheChainGetsEveryNumberExactlyAsTheClientWroteIt(t *testing.T) {
	t.Parallel()
	var got map[string]any
	s, _, _ := setup(t, func(_ context.Context, c *chain.Call) (any, error) {
		got = c.Args
		return map[string]any{"ok": true}, nil
	})
	text, isErr := call(t, context.Background(), s,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"act","arguments":`+
			`{"id":9007199254740993,"amount":12345678901234567891,"rate":0.10000000000000000001,"nested":{"list":[1.0e2,-0.0]}}}}`)
	require.False(t, isErr, text)
	assert.Equal(t, map[string]any{
		"id":     json.Number("9007199254740993"),
		"amount": json.Number("12345678901234567891"),
		"rate":   json.Number("0.10000000000000000001"),
		"nested": map[string]any{"list": []any{json.Number("1.0e2"), json.Number("-0.0")}},
	}, got)
}

func TestArgumentsWithoutTheirRawFormFallBackToTheDecodedOnes(t *testing.T) {
	t.Parallel()
	// A request built in process, not read from the wire, has no raw form.
	var req mcp.CallToolRequest
	req.Params.Arguments = map[string]any{"n": 1.5}
	args, notObject := arguments(req)
	assert.Empty(t, notObject)
	assert.Equal(t, map[string]any{"n": 1.5}, args)

	req.Params.Arguments = []any{"x"}
	_, notObject = arguments(req)
	assert.Equal(t, "must be an object, got array", notObject)
}

// Arguments over MaxArgumentBytes are refused, audited, before anything
// decodes or validates them: far larger than any valid call, they would
// hold a worker in the schema library for seconds (found in review: 200 KB
// of subnormal numbers took 0.75 s, linearly).
func TestArgumentsTooLargeAreRefusedBeforeTheyAreRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		size    int
		refused bool
	}{
		{"at the limit", MaxArgumentBytes, false},
		{"one byte over", MaxArgumentBytes + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			head, tail := `{"repo":"acme/app","title":"`, `"}`
			raw := head + strings.Repeat("x", tc.size-len(head)-len(tail)) + tail
			require.Len(t, raw, tc.size)
			var req mcp.CallToolRequest
			req.Params.RawArguments = json.RawMessage(raw)
			args, problem := arguments(req)
			if tc.refused {
				assert.Equal(t, fmt.Sprintf("too large: %d bytes, at most %d", tc.size, MaxArgumentBytes), problem)
				assert.Empty(t, args)
				return
			}
			assert.Empty(t, problem)
			assert.Equal(t, "acme/app", args["repo"])
		})
	}
}
