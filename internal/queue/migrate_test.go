package queue

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenMigratesByUserVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version int // PRAGMA user_version set after a first Open; -1 leaves it
		setup   string
		wantErr string
	}{
		{name: "a new file is migrated to the newest version", version: -1},
		{name: "a file of an older release gets only the migrations it lacks", version: 2,
			setup: "DROP TABLE webhook_segment_mark"},
		{name: "a file already at the newest version opens as it is", version: 3},
		{name: "a file migrated by a newer binary is refused", version: 4,
			wantErr: "schema version 4, newer than this binary knows (3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), FileName)
			db, err := Open(ctx, path, Options{Synchronous: "NORMAL"})
			require.NoError(t, err)
			require.NoError(t, db.Close())
			if tt.version >= 0 {
				raw, err := sql.Open("sqlite", path)
				require.NoError(t, err)
				if tt.setup != "" {
					_, err = raw.Exec(tt.setup)
					require.NoError(t, err)
				}
				_, err = raw.Exec("PRAGMA user_version = " + strconv.Itoa(tt.version))
				require.NoError(t, err)
				require.NoError(t, raw.Close())
			}

			db, err = Open(ctx, path, Options{Synchronous: "NORMAL"})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			defer func() { require.NoError(t, db.Close()) }()
			var v int
			require.NoError(t, db.read.QueryRow("PRAGMA user_version").Scan(&v))
			assert.Equal(t, 3, v)
			var n int
			require.NoError(t, db.read.QueryRow("SELECT count(*) FROM webhook_segment_mark").Scan(&n), "the last migration's table exists")
		})
	}
}
