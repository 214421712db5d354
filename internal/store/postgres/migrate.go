package postgres

import (
	"github.com/saas-mcp/saas-mcp/internal/store/migration"

	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles are the schema changes, named NNNN_what.sql, applied in
// version order and never edited once released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations lists the embedded migrations in version order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// migrate applies the migrations the schema lacks in one transaction that
// first takes a transaction-scoped advisory lock named after the schema: a
// second process migrating at the same moment waits, then finds everything
// applied, and a crash releases the lock with the transaction. A schema
// migrated by a newer binary is refused.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	all, err := migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('saas-mcp migrations ' || current_schema()))`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("migrate: create schema_migrations: %w", err)
		}
		return migration.Apply(ctx, all, migration.Steps{
			Newest: func(ctx context.Context) (int, error) {
				var newest int
				err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest)
				return newest, err
			},
			// Without arguments pgx uses the simple protocol, which runs a
			// file of several statements.
			Exec: func(ctx context.Context, sql string) error {
				_, err := tx.Exec(ctx, sql)
				return err
			},
			Record: func(ctx context.Context, m migration.Migration) error {
				_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
				return err
			},
		})
	})
}
