package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A long field is cut to MaxField + Longest() + TokenMargin before it is
// redacted, so that a secret is never cut in two before redaction within
// the first MaxField bytes. But redaction shrinks the text before the cut
// (a 64-byte secret becomes "[REDACTED]"), and the piece of a secret the
// pre-cut split, no longer matching, slides back inside MaxField and is
// written to the log.
func TestAStartedRecordsTargetKeepsNoPieceOfASecretTheFirstCutSplit(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("S3cr3tV4lu3", 6)[:64] // 64 bytes, a signing secret of the user's choosing
	red := redact.New(secret)
	pre := MaxField + red.Longest() + redact.TokenMargin
	const piece = 40 // bytes of the last copy before the pre-cut
	k := 68
	filler := strings.Repeat("x", pre-piece-k*len(secret))
	target := filler + strings.Repeat(secret, k) + secret + strings.Repeat("y", 100)
	require.Greater(t, len(target), pre)

	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{Redactor: red})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	require.NoError(t, w.Write(context.Background(), Record{Actor: "a", Provider: "slack", Action: "send", Target: target, Status: StatusStarted}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(b), secret[:piece], "a %d-byte piece of the secret is in the audit log", piece)
}
