package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// A writeAudit target is free text (no pattern in its schema: newlines
// and tabs are valid), and it is the key row's target. doctor prints it
// raw into its table, so one key in doubt whose target holds a newline
// prints as two rows, the second one whatever the agent wrote: a forged
// key in doubt (serve's start-up report, JSON, escapes it).
//
// Not parallel: doctor reads the process environment.
func TestDoctorPrintsOneRowPerKeyInDoubtWhateverItsTargetHolds(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("DATA_DIR", data)
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	require.NoError(t, os.MkdirAll(data, 0o750))
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(data, "state.db"), sqlite.Options{})
	require.NoError(t, err)
	now := time.Now()
	target := "P1\nforged-key\tcreateTicket\tacme/app\tclaimed\t2025-01-01T00:00:00Z"
	c, err := idempotency.Policy{}.NewClaim("writeAudit", "real-key", "0123abcd", target, "owner-A", now)
	require.NoError(t, err)
	_, out, err := db.Keys().Claim(ctx, c, now, nil)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	require.NoError(t, db.Keys().MarkInDoubt(ctx, c.Key, "owner-A"))
	require.NoError(t, db.Close())

	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, runDoctor(ctx, nil, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), "in doubt:  1 key(s)")
	table := stdout.String()[strings.Index(stdout.String(), "KEY"):]
	rows := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	assert.Len(t, rows, 2, "a header and one row for the one key in doubt:\n%s", table)
	assert.NotContains(t, stdout.String(), "\nforged-key", "the target started a row of its own")
}
