package mcpserver_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envServer is serve (minus guard and secrets) for one INTEGRATION_ENV,
// with its own GitHub, on the DATA_DIR and audit log given: two of them are
// a sandbox and a live serve started from one project directory (DATA_DIR
// defaults to data/ there).
func envServer(t *testing.T, dir, env string) (*server.MCPServer, *fakeGitHub) {
	t.Helper()
	gh := &fakeGitHub{}
	srv, _ := serveStack(t, dir, env, gh)
	return srv, gh
}

func callOn(t *testing.T, srv *server.MCPServer, tool, args string) (string, bool) {
	t.Helper()
	msg := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	b, err := json.Marshal(srv.HandleMessage(context.Background(), json.RawMessage(msg)))
	require.NoError(t, err)
	var resp struct {
		Result *mcp.CallToolResult `json:"result"`
	}
	require.NoError(t, json.Unmarshal(b, &resp), "%s", b)
	require.NotNil(t, resp.Result, "%s", b)
	text, ok := resp.Result.Content[0].(mcp.TextContent)
	require.True(t, ok, "%s", b)
	return text.Text, resp.Result.IsError
}

// Sandbox and live never mix: a sandbox serve and a live serve that share
// DATA_DIR (both started from one project, where DATA_DIR defaults to data/)
// never answer each other's calls. A call without a key acts in each
// environment; a key one environment used is refused in the other, naming
// it, with nothing sent; the same environment twice still replays.
func TestSandboxAndLiveServersSharingADataDirNeverAnswerEachOthersCalls(t *testing.T) {
	t.Parallel()
	const derived = `{"repo":"acme/app","title":"Deploy failed"}`
	const explicit = `{"repo":"acme/app","title":"Deploy failed","idempotencyKey":"deploy-42"}`
	for _, tc := range []struct {
		name, args, first, second string
		wantErr                   string // "": the second call acts (or replays, same env)
		wantReplay                bool
	}{
		{name: "a derived key, sandbox then live", args: derived, first: "sandbox", second: "live"},
		{name: "a derived key, live then sandbox", args: derived, first: "live", second: "sandbox"},
		{name: "an explicit key, sandbox then live", args: explicit, first: "sandbox", second: "live",
			wantErr: `idempotency key "deploy-42" was already used by a sandbox server sharing this DATA_DIR, so nothing was sent`},
		{name: "an explicit key, live then sandbox", args: explicit, first: "live", second: "sandbox",
			wantErr: `idempotency key "deploy-42" was already used under live's name space, by a live server sharing this DATA_DIR or by a sandbox call before an upgrade`},
		{name: "a derived key, sandbox twice", args: derived, first: "sandbox", second: "sandbox", wantReplay: true},
		{name: "an explicit key, live twice", args: explicit, first: "live", second: "live", wantReplay: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			first, firstGH := envServer(t, dir, tc.first)
			second, secondGH := envServer(t, dir, tc.second)

			r1, isErr := callOn(t, first, "createTicket", tc.args)
			require.False(t, isErr, r1)
			require.Len(t, firstGH.opened(), 1)

			r2, isErr := callOn(t, second, "createTicket", tc.args)
			switch {
			case tc.wantErr != "":
				require.True(t, isErr, r2)
				assert.Contains(t, r2, tc.wantErr)
				assert.Empty(t, secondGH.opened(), "nothing may be sent under a key the other environment used")
			case tc.wantReplay:
				require.False(t, isErr, r2)
				assert.True(t, replayed(t, r2), r2)
				assert.Len(t, firstGH.opened(), 1)
				assert.Empty(t, secondGH.opened())
			default:
				require.False(t, isErr, r2)
				assert.False(t, replayed(t, r2), "answered with the other environment's issue: %s", r2)
				assert.Len(t, secondGH.opened(), 1, "issues opened by the second environment")
			}
		})
	}
}
