package sqlite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// copyFile copies src to dst, as it is on disk now.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(dst)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// A store opened with Synchronous FULL writes its WAL file full of zeros
// up to walPrealloc in the background, so that a claim's sync overwrites
// instead of growing the file. The claims made before and after it are
// all there after a crash (the files copied as a killed process leaves
// them, without the shared-memory index, so SQLite rebuilds the index from
// the WAL: it must stop at the zeros, not take them for frames), and after
// a clean reopen. NORMAL, which never syncs the WAL per commit, leaves the
// file alone, and so does a store not asked to (doctor's).
func TestTheWALIsWrittenAheadInZerosAndClaimsSurviveACrash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		sync     string
		ahead    bool
		extended bool
	}{
		{"FULL", "FULL", true, true},
		{"NORMAL", "NORMAL", true, false},
		{"FULL, for a command that only looks", "FULL", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, "store.db")
			db, err := Open(ctx, path, Options{Synchronous: tt.sync, WriteAheadWAL: tt.ahead})
			require.NoError(t, err)
			now := time.Now()
			claim := func(db *DB, key string) {
				_, out, err := db.Keys().Claim(ctx, cancelClaim(key, "A", now), now, func(string) bool { return true })
				require.NoError(t, err)
				require.Equal(t, idempotency.Acquired, out, key)
			}
			claim(db, "key:before")
			<-db.walDone
			st, err := os.Stat(path + "-wal")
			require.NoError(t, err)
			if tt.extended {
				assert.GreaterOrEqual(t, st.Size(), int64(walPrealloc))
			} else {
				assert.Less(t, st.Size(), int64(walPrealloc))
			}
			for i := range 50 {
				claim(db, fmt.Sprintf("key:after-%d", i))
			}

			crashed := filepath.Join(dir, "crashed")
			require.NoError(t, os.Mkdir(crashed, 0o750))
			copyFile(t, path, filepath.Join(crashed, "store.db"))
			copyFile(t, path+"-wal", filepath.Join(crashed, "store.db-wal"))
			require.NoError(t, db.Close())

			for _, p := range []string{filepath.Join(crashed, "store.db"), path} {
				again, err := Open(ctx, p, Options{Synchronous: tt.sync, WriteAheadWAL: tt.ahead})
				require.NoError(t, err, p)
				for _, key := range []string{"key:before", "key:after-0", "key:after-49"} {
					_, found, err := again.Keys().Get(ctx, key)
					require.NoError(t, err)
					assert.True(t, found, "%s in %s", key, p)
				}
				claim(again, "key:later")
				require.NoError(t, again.Close())
			}
		})
	}
}
