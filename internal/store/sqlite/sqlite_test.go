package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/store/storetest"
)

// openTest opens a fresh database in the test's temporary directory.
func openTest(t *testing.T, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "store.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	// The WAL written ahead in zeros takes the writer once, in the
	// background: tests that look at the writer's state start after it
	// (one read its synchronous mode, and failed 3 times in 300 when the
	// goroutine took the writer in between; found in review).
	<-db.walDone
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Stores {
		db := openTest(t, Options{})
		return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
	})
}

func TestConformanceWithSynchronousNormal(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Stores {
		db := openTest(t, Options{Synchronous: "normal"})
		return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
	})
}

func TestOpenSetsThePragmasThatKeepClaimsSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantWAL bool // durable writes sync the WAL (the connections run NORMAL either way)
	}{
		{"the default syncs claims", Options{}, true},
		{"NORMAL can be chosen", Options{Synchronous: "NORMAL"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t, tt.opts)
			read, err := db.read.Conn(context.Background())
			require.NoError(t, err)
			defer func() { assert.NoError(t, read.Close()) }()
			for _, conn := range []*sql.Conn{db.w.conn, read} {
				var mode string
				var sync, fk, busy int
				require.NoError(t, conn.QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode))
				require.NoError(t, conn.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&sync))
				require.NoError(t, conn.QueryRowContext(context.Background(), `PRAGMA foreign_keys`).Scan(&fk))
				require.NoError(t, conn.QueryRowContext(context.Background(), `PRAGMA busy_timeout`).Scan(&busy))
				assert.Equal(t, "wal", mode)
				if conn == db.w.conn {
					assert.Equal(t, 1, sync, "the writer syncs after its commits, not inside them")
				}
				assert.Equal(t, 1, fk)
				assert.Equal(t, 5000, busy)
			}
			assert.Equal(t, tt.wantWAL, db.w.wal != nil)
			_, err = db.read.Exec(`DELETE FROM idempotency_keys`)
			assert.Error(t, err, "the read pool must be read-only")
		})
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts Options
	}{
		{"an unknown synchronous mode", filepath.Join(dir, "a.db"), Options{Synchronous: "OFF"}},
		{"an empty path", "", Options{}},
		{"an in-memory database, which processes cannot share", ":memory:", Options{}},
		{"a path with a query string", filepath.Join(dir, "a.db?mode=ro"), Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(context.Background(), tt.path, tt.opts)
			assert.Error(t, err)
		})
	}
}

func TestMigrationsRunOnceWhenManyOpenAtOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "store.db")
	const n = 8
	var wg sync.WaitGroup
	dbs := make([]*DB, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(context.Background(), path, Options{})
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		defer func() { assert.NoError(t, dbs[i].Close()) }()
	}
	all, err := migrations()
	require.NoError(t, err)
	var rows, maxVersion int
	require.NoError(t, dbs[0].read.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxVersion))
	assert.Equal(t, len(all), rows)
	assert.Equal(t, all[len(all)-1].Version, maxVersion)
}

func TestOpenRefusesASchemaFromANewerBinary(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(context.Background(), path, Options{})
	require.NoError(t, err)
	<-db.walDone // the WAL written ahead holds the connection in a transaction meanwhile
	_, err = db.w.conn.ExecContext(context.Background(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = Open(context.Background(), path, Options{})
	assert.ErrorContains(t, err, "newer than this binary")
}
