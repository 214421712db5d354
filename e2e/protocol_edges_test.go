package e2e

// Protocol-level edges of `saas-mcp serve` over raw stdio (written in a review, eleventh session).

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

func (s *rawServer) badLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

// rawInit starts a raw server with the handshake at the given version and
// returns the initialize response.
func TestInitializeNegotiatesProtocolVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ asked, want string }{
		{"2024-11-05", "2024-11-05"},
		{"2025-03-26", "2025-03-26"},
		{"2025-06-18", "2025-06-18"},
	} {
		t.Run(tc.asked, func(t *testing.T) {
			t.Parallel()
			s := startRaw(t, nil)
			s.send(`{"jsonrpc":"2.0","id":"init2","method":"initialize","params":{"protocolVersion":"` + tc.asked + `","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
			m := s.response("init2", 10*time.Second)
			res, _ := m["result"].(map[string]any)
			require.NotNil(t, res, "%v", m)
			assert.Equal(t, tc.want, res["protocolVersion"])
		})
	}
	t.Run("unknown version gets a version the server supports", func(t *testing.T) {
		t.Parallel()
		s := startRaw(t, nil)
		s.send(`{"jsonrpc":"2.0","id":"init2","method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`)
		m := s.response("init2", 10*time.Second)
		res, _ := m["result"].(map[string]any)
		require.NotNil(t, res, "%v", m)
		assert.NotEqual(t, "1999-01-01", res["protocolVersion"])
		assert.NotEmpty(t, res["protocolVersion"])
	})
}

func TestPingAndIDs(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(`{"jsonrpc":"2.0","id":0,"method":"ping"}`)
	m := s.response(0, 10*time.Second)
	assert.Equal(t, map[string]any{}, m["result"], "%v", m)
	s.send(callLine(0, "writeAudit", map[string]any{"provider": "p", "action": "a", "target": "id0"}, nil))
	// id 0 was reused: answer for the latest; we only check the call is answered with a result for id 0
	time.Sleep(500 * time.Millisecond)
	n := 0
	for _, l := range s.snapshot() {
		if id, ok := l["id"].(float64); ok && id == 0 {
			n++
		}
	}
	assert.Equal(t, 2, n, "both requests with id 0 answered")
	s.send(callLine("s-1", "writeAudit", map[string]any{"provider": "p", "action": "a", "target": "sid"}, nil))
	m = s.response("s-1", 10*time.Second)
	assert.False(t, isToolError(m), "%v", m)
	assert.Empty(t, s.badLines())
}

func TestUnknownToolAndOddArguments(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(callLine("u", "noSuchTool", map[string]any{}, nil))
	m := s.response("u", 10*time.Second)
	b, _ := json.Marshal(m)
	t.Logf("unknown tool: %s", b)
	if e, ok := m["error"].(map[string]any); ok {
		assert.Equal(t, float64(-32602), e["code"], "MCP: unknown tool is -32602 Invalid params")
	} else {
		assert.True(t, isToolError(m))
	}
	for _, args := range []string{`null`, `[]`, `"x"`, ``} {
		line := `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"writeAudit","arguments":` + args + `}}`
		if args == "" {
			line = `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"writeAudit"}}`
		}
		s.mu.Lock()
		s.lines = nil
		s.mu.Unlock()
		s.send(line)
		m := s.response("a", 10*time.Second)
		b, _ := json.Marshal(m)
		t.Logf("args %s: %s", args, b)
		if m["error"] == nil {
			assert.True(t, isToolError(m), "%s", b)
			res := m["result"].(map[string]any)
			c, _ := res["content"].([]any)
			require.NotEmpty(t, c, "isError with text content")
		}
	}
	assert.Empty(t, s.badLines())
}

func TestStdoutStaysJSONRPCOnOddInput(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send("not json at all")
	s.send(`{"jsonrpc":"2.0","id":"u8","method":"tools/call","params":{"name":"writeAudit","arguments":{"provider":"p","action":"a","target":"` + "\xff\xfe bad \xc3" + `"}}}`)
	s.send(`{"jsonrpc":"2.0","id":"u8b","method":"tools/call","params":{"name":"no` + "\xff" + `pe","arguments":{}}}`)
	s.send(strings.Repeat("x", 8<<20))
	s.send(`{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"writeAudit","arguments":{"provider":"p","action":"a","target":"t","details":{"x":"` + strings.Repeat("y", 5<<20) + `"}}}}`)
	s.send(`{"jsonrpc":"2.0","id":"after","method":"ping"}`)
	s.response("after", 30*time.Second)
	s.response("u8", 10*time.Second)
	s.response("u8b", 10*time.Second)
	s.response("big", 10*time.Second)
	assert.Empty(t, s.badLines())
	for _, l := range s.snapshot() {
		b, _ := json.Marshal(l)
		assert.True(t, utf8.Valid(b))
		if len(b) < 2000 {
			t.Logf("%s", b)
		}
	}
}

var _ = fakesaas.Fault{}

func TestUnknownMethodAndToolsListStable(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(`{"jsonrpc":"2.0","id":"m","method":"no/such/method"}`)
	m := s.response("m", 10*time.Second)
	e, _ := m["error"].(map[string]any)
	require.NotNil(t, e, "%v", m)
	assert.Equal(t, float64(-32601), e["code"])
	s.send(`{"jsonrpc":"2.0","id":"l1","method":"tools/list"}`, `{"jsonrpc":"2.0","id":"l2","method":"tools/list"}`)
	a, _ := json.Marshal(s.response("l1", 10*time.Second)["result"])
	b, _ := json.Marshal(s.response("l2", 10*time.Second)["result"])
	assert.JSONEq(t, string(a), string(b))
}
