package e2e

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestAKeyInDoubtIsNamedBeforeANewCallTakesItsExpiredRow: the README says a
// key in doubt left by another process on the same DATA_DIR that expires
// while serve runs "is listed the same way before the 10-minute prune
// deletes it", the row being the only trace of a call that may have acted.
// The prune is not the only thing that deletes it: the same call arriving
// after the row expired (a derived key recurs by design) takes the row over,
// so that claim must name the key in doubt (idempotency.in_doubt) before
// the new call acts, or the crashed call that may have opened an issue is
// left with a started record nothing explains.
func TestAKeyInDoubtIsNamedBeforeANewCallTakesItsExpiredRow(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out a one-minute lease")
	}
	// The shortest lease serve allows: HTTP_MAX_CALL_WAIT + attempts x
	// HTTP_TIMEOUT + 1m.
	h := start(t, fastEnv(map[string]string{
		"SAAS_MCP_FAILPOINT": "after_response", "IDEMPOTENCY_WINDOW": "1s",
		"HTTP_MAX_ATTEMPTS": "1", "HTTP_TIMEOUT": "200ms", "HTTP_MAX_WAIT": "100ms", "HTTP_MAX_CALL_WAIT": "100ms",
	}))
	vars := maps.Clone(h.vars)
	vars["SAAS_MCP_FAILPOINT"] = ""
	sibling, _ := h.dial(vars) // a long-running serve on the same DATA_DIR
	args := map[string]any{"repo": "acme/sib", "title": "Broken sib"}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := try(ctx, h.session, createTicketTool.name, args)
	require.Error(t, err, "the first server died after GitHub answered")
	h.stop()
	require.Len(t, h.fake.GitHubIssues("acme/sib"), 1)

	time.Sleep(62 * time.Second) // the key's window and the dead claim's lease are over
	out := structured(t, callOn(t, sibling, createTicketTool.name, args))
	key, _ := out["idempotencyKey"].(string)
	require.NotEmpty(t, key)

	named := hasRecord(h.records(), key, func(r audit.Record) bool { return r.Action == "idempotency.in_doubt" })
	assert.True(t, named, "the crashed call's key, in doubt, was never named before its row was taken over")
}
