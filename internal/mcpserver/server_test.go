package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/tools"
)

// spy is the audit middleware's stand-in: it records whether the call's
// context was already cancelled when audit saw it, and the call's outcome.
type spy struct {
	mu       sync.Mutex
	auditErr []error // ctx.Err() as the audit middleware saw it
	outcome  []error // what the chain returned to it
}

func (s *spy) middleware(next chain.Handler) chain.Handler {
	return func(ctx context.Context, c *chain.Call) (chain.Result, error) {
		s.mu.Lock()
		s.auditErr = append(s.auditErr, ctx.Err())
		s.mu.Unlock()
		res, err := next(ctx, c)
		s.mu.Lock()
		s.outcome = append(s.outcome, err)
		s.mu.Unlock()
		return res, err
	}
}

// setup returns a server with one tool, "act", whose run is given, behind
// the spy, with a cancellation registry.
func setup(t *testing.T, run func(ctx context.Context, c *chain.Call) (any, error)) (*server.MCPServer, *Cancellations, *spy) {
	t.Helper()
	sp := &spy{}
	c := NewCancellations()
	s := New(Options{
		Name: "test", Version: "1",
		Tools: []tools.Definition{{MCP: mcp.NewTool("act"), Chain: &chain.Tool{Name: "act", Provider: "test", Action: "act", Run: run}}},
		Audit: sp.middleware, Cancellations: c, Actor: "tester",
		Redactor: redact.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return s, c, sp
}

// call sends one tools/call to s and returns the tool result's text and
// whether it is an error.
func call(t *testing.T, ctx context.Context, s *server.MCPServer, line string) (string, bool) {
	t.Helper()
	resp := s.HandleMessage(ctx, json.RawMessage(line))
	b, err := json.Marshal(resp)
	require.NoError(t, err)
	var out struct {
		Result struct {
			Content []struct{ Text string } `json:"content"`
			IsError bool                    `json:"isError"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	require.Len(t, out.Result.Content, 1, "%s", b)
	return out.Result.Content[0].Text, out.Result.IsError
}

func callOf(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"act","arguments":{}}}`
}

// TestACallCancelledBeforeItStartsRunsCancelledPastTheAudit: a cancellation
// read before its call started (mcp-go drops it) still ends the call: the
// chain runs it with its context already cancelled (the audit middleware
// records it all the same: see chain.Audit and the e2e cancellation
// tests). A cancellation of another id leaves the call alone.
func TestACallCancelledBeforeItStartsRunsCancelledPastTheAudit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		callID        string
		cancelID      string
		wantCancelled bool
	}{
		{"a string id", `"a"`, `"a"`, true},
		{"a number id", `7`, `7`, true},
		{"a number id written another way", `7`, `7.0`, true},
		{"another id", `7`, `8`, false},
		{"a string id with the digits of the number id", `7`, `"7"`, false},
	} {
		t.Run("a cancellation of "+tc.name, func(t *testing.T) {
			t.Parallel()
			var runErr, runCause error
			s, c, sp := setup(t, func(ctx context.Context, _ *chain.Call) (any, error) {
				runErr, runCause = ctx.Err(), context.Cause(ctx)
				return map[string]any{"ok": true}, nil
			})
			_, err := io.Copy(io.Discard, c.Watch(strings.NewReader(cancelOf(tc.cancelID)+"\n")))
			require.NoError(t, err)

			call(t, context.Background(), s, callOf(tc.callID))
			require.Len(t, sp.auditErr, 1, "the call passed the audit middleware")
			if tc.wantCancelled {
				assert.ErrorIs(t, runErr, context.Canceled)
				assert.ErrorIs(t, runCause, errCancelledBeforeStart)
				assert.Zero(t, c.pending(), "the id is taken")
			} else {
				assert.NoError(t, runErr)
				assert.Equal(t, 1, c.pending(), "the other id stays noted")
			}
		})
	}
}

// TestTheClientsCancellationOfARunningCallReachesTheTool: cancelling the
// request's context (mcp-go does, on notifications/cancelled for a running
// call) ends the context the tool runs with.
func TestTheClientsCancellationOfARunningCallReachesTheTool(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	s, _, sp := setup(t, func(ctx context.Context, _ *chain.Call) (any, error) {
		cancel() // the client cancels while the tool runs
		<-ctx.Done()
		return nil, ctx.Err()
	})
	text, isErr := call(t, ctx, s, callOf(`1`))
	assert.True(t, isErr)
	assert.Contains(t, text, "context canceled")
	require.Len(t, sp.outcome, 1)
	assert.ErrorIs(t, sp.outcome[0], context.Canceled)
}

// TestArgumentsThatAreNotAnObjectAreRefusedInsideTheAudit: arguments that
// are not a JSON object are refused by the chain, after the audit
// middleware saw the call, with an error naming what was sent; absent
// arguments are {} and reach the tool.
func TestArgumentsThatAreNotAnObjectAreRefusedInsideTheAudit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, args, want string
	}{
		{"an array", `["x"]`, "invalid arguments for act: arguments: must be an object, got array"},
		{"a string holding an object", `"{\"a\":1}"`, "invalid arguments for act: arguments: must be an object, got a string holding a JSON object; send the object itself, not encoded into a string"},
		{"a string", `"x"`, "invalid arguments for act: arguments: must be an object, got string"},
		{"a string holding null", `"null"`, "invalid arguments for act: arguments: must be an object, got string"},
		{"a number", `1.5`, "invalid arguments for act: arguments: must be an object, got number"},
		{"a boolean", `false`, "invalid arguments for act: arguments: must be an object, got boolean"},
		{"null", `null`, ""},
		{"an object", `{"a":1}`, ""},
	} {
		t.Run("arguments that are "+tc.name, func(t *testing.T) {
			t.Parallel()
			var got map[string]any
			s, _, sp := setup(t, func(_ context.Context, c *chain.Call) (any, error) {
				got = c.Args
				return map[string]any{"ok": true}, nil
			})
			text, isErr := call(t, context.Background(), s,
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"act","arguments":`+tc.args+`}}`)
			require.Len(t, sp.outcome, 1, "the audit middleware saw the call")
			if tc.want == "" {
				assert.False(t, isErr, text)
				assert.NotNil(t, got)
				return
			}
			assert.True(t, isErr)
			assert.Equal(t, tc.want, text)
			var ce *chain.Error
			require.True(t, errors.As(sp.outcome[0], &ce))
			assert.True(t, ce.Rejected(), "audited as rejected")
			assert.Nil(t, got, "the tool did not run")
		})
	}
}
