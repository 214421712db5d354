package mcpserver_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
	"github.com/saas-mcp/saas-mcp/tools"
)

// A sandbox call left in doubt by the release before environments had
// name spaces was claimed under the plain hash, which is what a live call
// is claimed under now. Its retry on the upgraded sandbox server was told
// the key "was already used by a live server sharing this DATA_DIR" (found
// in review), although no live server may ever have used it: the refusal
// now names both possibilities.
func TestASandboxKeyFromBeforeTheUpgradeIsNotBlamedOnALiveServerAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	args := map[string]any{"repo": "acme/app", "title": "Deploy failed", "idempotencyKey": "deploy-42"}
	defs, err := tools.All(tools.Deps{Env: "sandbox", GitHub: &fakeGitHub{}, Now: time.Now, Redactor: redact.New()})
	require.NoError(t, err)
	var plain string
	for _, d := range defs {
		if d.MCP.Name == "createTicket" {
			plain, err = d.Chain.Form.ArgsHash("createTicket", args)
			require.NoError(t, err)
		}
	}
	require.NotEmpty(t, plain)

	// The old sandbox serve's claim, left in doubt.
	db, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{})
	require.NoError(t, err)
	now := time.Now()
	claim, err := idempotency.Policy{}.NewClaim("createTicket", "deploy-42", plain, "acme/app", "old-sandbox", now)
	require.NoError(t, err)
	_, out, err := db.Keys().Claim(ctx, claim, now, nil)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	require.NoError(t, db.Keys().MarkInDoubt(ctx, claim.Key, "old-sandbox"))
	require.NoError(t, db.Close())

	srv, _ := envServer(t, dir, "sandbox")
	text, isErr := callOn(t, srv, "createTicket", `{"repo":"acme/app","title":"Deploy failed","idempotencyKey":"deploy-42"}`)
	require.True(t, isErr, text)
	assert.NotContains(t, text, "already used by a live server", "no live server ever used the key")
}
