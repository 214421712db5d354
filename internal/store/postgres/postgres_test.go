package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/storetest"
)

// testURL returns TEST_DATABASE_URL or skips the test.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" && os.Getenv("CI") != "" {
		t.Fatal("TEST_DATABASE_URL must be set in CI (.ci/run starts PostgreSQL)")
	}
	if u == "" {
		t.Skip("TEST_DATABASE_URL is not set: PostgreSQL store tests need a database, " +
			"e.g. TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/saasmcp_test?sslmode=disable")
	}
	return u
}

// withParams adds server and pool parameters to a URL or key=value string.
func withParams(t testing.TB, conn string, params map[string]string) string {
	t.Helper()
	if strings.Contains(conn, "://") {
		u, err := url.Parse(conn)
		require.NoError(t, err)
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		conn += " " + k + "=" + v
	}
	return conn
}

// testSchema creates an empty schema of its own for the test, dropped when
// the test ends, and returns a connection string that uses it, so tests run
// in parallel on one database.
func testSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer func() { _ = admin.Close(ctx) }()
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if assert.NoError(t, err) {
			_, err = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			assert.NoError(t, err)
			_ = c.Close(ctx)
		}
	})
	return withParams(t, base, map[string]string{"search_path": schema, "pool_max_conns": "8"})
}

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), testSchema(t))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.Exercise(t, func(t *testing.T) storetest.Stores {
		db := openTest(t)
		return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
	})
}

func TestMigrationsRunOnceWhenManyOpenAtOnce(t *testing.T) {
	t.Parallel()
	conn := testSchema(t)
	const n = 6
	var wg sync.WaitGroup
	dbs := make([]*DB, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(context.Background(), conn)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		defer dbs[i].Close()
	}
	all, err := migrations()
	require.NoError(t, err)
	var rows, maxVersion int
	require.NoError(t, dbs[0].pool.QueryRow(context.Background(),
		`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxVersion))
	assert.Equal(t, len(all), rows)
	assert.Equal(t, all[len(all)-1].Version, maxVersion)
}

func TestOpenRefusesASchemaFromANewerBinary(t *testing.T) {
	t.Parallel()
	conn := testSchema(t)
	db, err := Open(context.Background(), conn)
	require.NoError(t, err)
	_, err = db.pool.Exec(context.Background(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`)
	require.NoError(t, err)
	db.Close()
	_, err = Open(context.Background(), conn)
	assert.ErrorContains(t, err, "newer than this binary")
}

func TestOpenErrorsNeverShowThePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
	}{
		{"an unparsable URL", "postgres://user:s3cretpass@127.0.0.1:5432/db?sslmode=bogus"},
		{"a server that refuses", "postgres://user:s3cretpass@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(context.Background(), tt.url)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cretpass")
		})
	}
}

func TestAFailedOwnerWriteChangesNothingAndLeavesThePoolUsable(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := idempotency.Claim{Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Owner: "A",
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	_, out, err := db.Keys().Claim(ctx, c, now, nil)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)

	// Far past PostgreSQL's timestamp range: the UPDATE inside the batch fails.
	err = db.Keys().Extend(ctx, "key:k", "A", time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC))
	require.Error(t, err)
	assert.NotErrorIs(t, err, idempotency.ErrNotOwner)

	for range 2 * 8 { // more than the pool holds, so a broken connection would show
		got, ok, err := db.Keys().Get(ctx, "key:k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, got.LeaseUntil.Equal(c.LeaseUntil), "the failed extend must not have applied")
	}
	require.NoError(t, db.Keys().Commit(ctx, "key:k", "A", json.RawMessage(`{"ok":true}`)))
}
