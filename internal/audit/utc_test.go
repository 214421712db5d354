package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every record's ts is written in UTC, whatever zone it was stamped in, so
// records read (and sort) alike whichever process or tool wrote them.
func TestRecordsAreStampedInUTC(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("UTC+5", 5*3600)
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{Now: func() time.Time { return time.Date(2026, 12, 5, 16, 0, 0, 0, zone) }})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Action: "stamped by the writer"}))
	require.NoError(t, w.Write(ctx, Record{Action: "stamped by the caller", TS: time.Date(2026, 12, 5, 17, 0, 0, 0, zone)}))
	require.NoError(t, w.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], `"ts":"2026-12-05T11:00:00Z"`)
	assert.Contains(t, lines[1], `"ts":"2026-12-05T12:00:00Z"`)
}
