package mcpserver_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAnIdempotencyKeyHoldingATokenIsRefusedNamingTheFieldWithNothingSent:
// an agent handed a token may use it as its idempotencyKey (or paste it
// there by mistake). A key comes back in the tool's result and goes to the
// provider (an issue's marker, a message's metadata), so the token came
// back raw in a successful result while every error and the audit log
// masked it (found in review). The key is refused before anything is
// claimed or sent, naming the field and not quoting the token.
func TestAnIdempotencyKeyHoldingATokenIsRefusedNamingTheFieldWithNothingSent(t *testing.T) {
	t.Parallel()
	const token = "ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789"
	dir := t.TempDir()
	srv, gh := envServer(t, dir, "sandbox")

	text, isErr := callOn(t, srv, "createTicket", `{"repo":"acme/app","title":"Deploy failed","idempotencyKey":"`+token+`"}`)
	require.True(t, isErr, text)
	assert.Contains(t, text, "idempotencyKey")
	assert.Contains(t, text, "holds a credential")
	assert.NotContains(t, text, token)
	assert.Empty(t, gh.opened(), "nothing sent")
	log, err := os.ReadFile(filepath.Join(dir, "audit.ndjson"))
	require.NoError(t, err)
	assert.NotContains(t, string(log), token, "the audit log masks the key")
	assert.Contains(t, string(log), `"status":"rejected"`)

	// An ordinary key still works.
	text, isErr = callOn(t, srv, "createTicket", `{"repo":"acme/app","title":"Deploy failed","idempotencyKey":"deploy-42"}`)
	require.False(t, isErr, text)
	require.Len(t, gh.opened(), 1)
}
