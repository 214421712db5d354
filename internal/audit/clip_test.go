package audit

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The actor (the MCP client's own clientInfo.name) and the error are cut
// like the target and the key: a client naming itself with megabytes, or a
// long provider answer quoted in an error, must not be copied into the log
// whole, twice per call (review observation).
func TestTheActorAndTheErrorAreCutToLength(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Write(context.Background(), Record{
		Actor: strings.Repeat("a", 1<<20), Error: strings.Repeat("e", 1<<20), Status: StatusFailed}))
	require.NoError(t, w.Close())
	recs := readAll(t, path)
	require.Len(t, recs, 1)
	assert.Less(t, len(recs[0].Actor), MaxField+100)
	assert.Contains(t, recs[0].Actor, "(1048576 bytes)")
	assert.Less(t, len(recs[0].Error), MaxError+100)
	assert.Contains(t, recs[0].Error, "(1048576 bytes)")
}
