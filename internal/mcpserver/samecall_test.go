package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/mcpserver"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
	"github.com/saas-mcp/saas-mcp/tools"
)

// These tests hold the README's "same call" rule (Guarantees) through the
// whole server, from the JSON a client writes to the effect: the chain's
// validation and idempotency on a real SQLite store, the real tools, and
// the real audit log.

// fakeGitHub opens issues in memory.
type fakeGitHub struct {
	mu     sync.Mutex
	issues []github.Issue
}

func (g *fakeGitHub) CreateIssue(_ context.Context, in github.Issue) (github.Created, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.issues = append(g.issues, in)
	n := len(g.issues)
	return github.Created{Number: n, URL: fmt.Sprintf("https://github.com/%s/issues/%d", in.Repo, n)}, nil
}

func (g *fakeGitHub) FindByKey(context.Context, string, string, time.Time) (github.Created, bool, error) {
	return github.Created{}, false, nil
}

func (g *fakeGitHub) opened() []github.Issue {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]github.Issue(nil), g.issues...)
}

// stack is the MCP server as serve builds it, minus guard and secrets.
type stack struct {
	srv      *server.MCPServer
	gh       *fakeGitHub
	auditLog *audit.Writer
}

func newStack(t *testing.T) *stack {
	t.Helper()
	gh := &fakeGitHub{}
	srv, log := serveStack(t, t.TempDir(), "sandbox", gh)
	return &stack{srv: srv, gh: gh, auditLog: log}
}

// serveStack builds the MCP server as serve does, minus guard and secrets,
// for the INTEGRATION_ENV given and with gh as GitHub, on the DATA_DIR and
// audit log in dir: two of them on one dir are two serves sharing it. opts
// change the server's options.
func serveStack(t *testing.T, dir, env string, gh github.Client, opts ...func(*mcpserver.Options)) (*server.MCPServer, *audit.Writer) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	log, err := audit.Open(filepath.Join(dir, "audit.ndjson"), audit.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = log.Close() })
	defs, err := tools.All(tools.Deps{Env: env, GitHub: gh, Ledger: db.Payments(), Audit: log, Now: time.Now, Redactor: redact.New()})
	require.NoError(t, err)
	inputs := map[string][]byte{}
	for _, d := range defs {
		inputs[d.MCP.Name] = d.MCP.RawInputSchema
	}
	v, err := chain.NewValidator(inputs)
	require.NoError(t, err)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	idem := &chain.Idempotency{Store: db.Keys(), Owner: idempotency.OwnerID(), Alive: idempotency.Alive,
		Now: time.Now, Audit: log, Log: discard}
	o := mcpserver.Options{Name: "saas-mcp", Version: "test", Tools: defs,
		Audit:       chain.Audit(log, time.Now, discard),
		Middlewares: []chain.Middleware{chain.Validate(v), idem.Middleware()}, Env: env, Redactor: redact.New(), Log: discard}
	for _, opt := range opts {
		opt(&o)
	}
	idem.Redactor = o.Redactor // one redactor for the whole stack, as in serve
	return mcpserver.New(o), log
}

// call sends one tools/call whose arguments are the JSON given, byte for
// byte as a client writes it, and returns the result's text and isError.
func (s *stack) call(t *testing.T, tool, args string) (string, bool) {
	t.Helper()
	msg := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	b, err := json.Marshal(s.srv.HandleMessage(context.Background(), json.RawMessage(msg)))
	require.NoError(t, err)
	var resp struct {
		Result *mcp.CallToolResult `json:"result"`
	}
	require.NoError(t, json.Unmarshal(b, &resp), "%s", b)
	require.NotNil(t, resp.Result, "%s", b)
	require.Len(t, resp.Result.Content, 1, "%s", b)
	text, ok := resp.Result.Content[0].(mcp.TextContent)
	require.True(t, ok, "%s", b)
	return text.Text, resp.Result.IsError
}

// agentRecords returns the records writeAudit wrote (an agent's records
// carry no callId), as the log file holds them.
func (s *stack) agentRecords(t *testing.T) []json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(s.auditLog.Path())
	require.NoError(t, err)
	var out []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var line json.RawMessage
		require.NoError(t, dec.Decode(&line))
		var r struct {
			CallID string `json:"callId"`
		}
		require.NoError(t, json.Unmarshal(line, &r))
		if r.CallID == "" {
			out = append(out, line)
		}
	}
	return out
}

func replayed(t *testing.T, result string) bool {
	t.Helper()
	var r struct {
		Replayed bool `json:"replayed"`
	}
	require.NoError(t, json.Unmarshal([]byte(result), &r), result)
	return r.Replayed
}

func TestTheSameCallSpelledAnotherWayActsOnceWithinTheWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		tool          string
		first, second string
	}{
		{"writeAudit with its default status spelled out", "writeAudit",
			`{"provider":"ci","action":"deploy","target":"prod"}`,
			`{"provider":"ci","action":"deploy","target":"prod","status":"succeeded"}`},
		{"writeAudit with empty details", "writeAudit",
			`{"provider":"ci","action":"deploy","target":"prod"}`,
			`{"provider":"ci","action":"deploy","target":"prod","details":{}}`},
		{"createTicket with an empty body, labels and assignees", "createTicket",
			`{"repo":"acme/app","title":"Deploy failed"}`,
			`{"repo":"acme/app","title":"Deploy failed","body":"","labels":[],"assignees":[]}`},
		{"createTicket with its labels in another order", "createTicket",
			`{"repo":"acme/app","title":"Caf\u00e9 menu broken","labels":["bug","ui"]}`,
			`{"repo":"acme/app","title":"Caf\u00e9 menu broken","labels":["ui","bug"]}`},
		{"createTicket with its assignees in another order", "createTicket",
			`{"repo":"acme/app","title":"Deploy failed","assignees":["alice","bob"]}`,
			`{"repo":"acme/app","title":"Deploy failed","assignees":["bob","alice"]}`},
		{"createTicket with its title in NFD", "createTicket",
			`{"repo":"acme/app","title":"Caf\u00e9 menu broken","labels":["bug","ui"]}`,
			`{"repo":"acme/app","title":"Cafe\u0301 menu broken","labels":["bug","ui"]}`},
		{"writeAudit with a number spelled another way", "writeAudit",
			`{"provider":"ci","action":"deploy","target":"prod","details":{"n":10}}`,
			`{"provider":"ci","action":"deploy","target":"prod","details":{"n":1.0e1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			r1, isErr := s.call(t, tt.tool, tt.first)
			require.False(t, isErr, r1)
			r2, isErr := s.call(t, tt.tool, tt.second)
			require.False(t, isErr, r2)
			assert.True(t, replayed(t, r2), "the second spelling acted again: %s", r2)
			switch tt.tool {
			case "createTicket":
				assert.Len(t, s.gh.opened(), 1, "issues opened")
			case "writeAudit":
				assert.Len(t, s.agentRecords(t), 1, "records written")
			}
		})
	}
}

func TestAnExplicitKeyRetriedWithTheSameCallSpelledAnotherWayReplays(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r1, isErr := s.call(t, "createTicket", `{"repo":"acme/app","title":"Caf\u00e9","labels":["bug","ui"],"idempotencyKey":"deploy-42"}`)
	require.False(t, isErr, r1)
	r2, isErr := s.call(t, "createTicket", `{"repo":"acme/app","title":"Cafe\u0301","labels":["ui","bug"],"body":"","idempotencyKey":"deploy-42"}`)
	require.False(t, isErr, "the retry was refused as a key reused with other arguments: %s", r2)
	assert.True(t, replayed(t, r2), r2)
	assert.Len(t, s.gh.opened(), 1)
}

func TestTheProviderGetsTheArgumentsExactlyAsTheAgentSentThem(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r, isErr := s.call(t, "createTicket", `{"repo":"acme/app","title":"Cafe\u0301","labels":["ui","bug"],"body":""}`)
	require.False(t, isErr, r)
	opened := s.gh.opened()
	require.Len(t, opened, 1)
	assert.Equal(t, "Cafe\u0301", opened[0].Title, "the title is not normalized")
	assert.Equal(t, []string{"ui", "bug"}, opened[0].Labels, "the labels keep their order")
}

func TestCallsThatDifferOnlyInALargeIntegerAreTwoCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		first, second string
	}{
		{"integers past 2^53 one apart",
			`{"userId":9007199254740993}`, `{"userId":9007199254740992}`},
		{"20-digit amounts one apart",
			`{"amount":12345678901234567891}`, `{"amount":12345678901234567890}`},
		{"decimals past float64's precision",
			`{"rate":0.10000000000000000001}`, `{"rate":0.1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			r1, isErr := s.call(t, "writeAudit", `{"provider":"discord","action":"ban","target":"guild","details":`+tt.first+`}`)
			require.False(t, isErr, r1)
			r2, isErr := s.call(t, "writeAudit", `{"provider":"discord","action":"ban","target":"guild","details":`+tt.second+`}`)
			require.False(t, isErr, r2)
			assert.False(t, replayed(t, r2), "a different record was taken for a replay of the first: %s", r2)

			recs := s.agentRecords(t)
			require.Len(t, recs, 2, "both records are written")
			for i, want := range []string{tt.first, tt.second} {
				var r struct {
					Details json.RawMessage `json:"details"`
				}
				require.NoError(t, json.Unmarshal(recs[i], &r))
				assert.JSONEq(t, want, string(r.Details), "the audit log holds the number the agent sent")
				assert.Equal(t, want, string(r.Details), "byte for byte, not rounded through float64")
			}
		})
	}
}

func TestAnExplicitKeyReusedWithALargeIntegerOneApartIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r1, isErr := s.call(t, "writeAudit", `{"provider":"discord","action":"ban","target":"guild","details":{"userId":9007199254740993},"idempotencyKey":"ban-1"}`)
	require.False(t, isErr, r1)
	r2, isErr := s.call(t, "writeAudit", `{"provider":"discord","action":"ban","target":"guild","details":{"userId":9007199254740992},"idempotencyKey":"ban-1"}`)
	assert.True(t, isErr, "another record under the same key was answered with the first: %s", r2)
	assert.Contains(t, r2, "already used with different arguments")
	assert.Len(t, s.agentRecords(t), 1)
}
