// Package postgres keeps the idempotency keys and the payments ledger in
// PostgreSQL, through pgx and its connection pool.
//
// Several saas-mcp processes, on one host or many, may share the database.
// Claim takes a new key with one INSERT ... ON CONFLICT statement and decides
// any other case under SELECT ... FOR UPDATE, so two processes claiming one
// key serialise on the row lock. Commits are synchronous (PostgreSQL's
// default synchronous_commit), so a claim is durable before Claim returns.
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is an open PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	keys *Keys
	pays *Payments
}

// Open connects to the database at url (a postgres:// URL or key=value
// string, as pgx accepts; extra parameters such as search_path are sent to
// the server) and brings its schema up to date. Several processes may Open
// one database at once. The error never contains the password.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err) // pgx masks the password
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	db := &DB{pool: pool}
	db.keys = &Keys{pool: pool}
	db.pays = &Payments{pool: pool}
	return db, nil
}

// Keys returns the idempotency key store.
func (db *DB) Keys() *Keys { return db.keys }

// Payments returns the payments ledger.
func (db *DB) Payments() *Payments { return db.pays }

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() {
	db.pool.Close()
}
