package audit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestANewLogInAWriteOnlyDirectoryStillOpens (found in review): before
// saas-mcp synced directories,
// a new audit log could be created in a directory the user may write and
// search but not list (mode -wx, e.g. a shared drop directory); O_CREATE
// needs nothing more. Syncing the directory opens it for reading, which
// such a directory refuses; that must not stop serve (and webhooks,
// worker) from starting. Root ignores modes: as root the test is skipped;
// run the test binary as an ordinary user, e.g.
//
//	go test -c -race -o /tmp/audit.test ./internal/audit &&
//	setpriv --reuid=nobody --regid=nogroup --clear-groups /tmp/audit.test -test.run WriteOnly -test.v
func TestANewLogInAWriteOnlyDirectoryStillOpens(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	dir := filepath.Join(t.TempDir(), "drop")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chmod(dir, 0o300))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	w, err := Open(filepath.Join(dir, "audit.ndjson"), Options{})
	require.NoError(t, err, "the old binary opened it")
	require.NoError(t, w.Close())
}
