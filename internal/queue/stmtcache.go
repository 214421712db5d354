package queue

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"
)

// River's riversqlite driver sends its queries as SQL text, and the modernc
// driver compiles text on every call: at a few hundred microseconds per
// InsertManyTx that was the receiver's largest cost. These connections keep
// the compiled statements of the texts they have seen, as database drivers
// with a statement cache do (pgx, mattn/go-sqlite3's users).

// maxCachedStmts bounds the statements kept per connection; River and this
// package use a few dozen distinct texts.
const maxCachedStmts = 256

// openCached opens a *sql.DB whose connections cache statements.
func openCached(dsn string) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite connector: %w", err)
	}
	return sql.OpenDB(cachingConnector{base}), nil
}

type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{base: conn, stmts: map[string]*cachedStmt{}}, nil
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool // rows of it are open: a second use would reset them
}

// cachingConn forwards every optional interface of the modernc connection,
// as its NewConnector documentation asks of wrappers. database/sql uses a
// connection from one goroutine at a time, so no lock is needed.
type cachingConn struct {
	base  driver.Conn
	stmts map[string]*cachedStmt
}

var (
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

func (c *cachingConn) Unwrap() driver.Conn { return c.base }

func (c *cachingConn) Prepare(q string) (driver.Stmt, error) { return c.base.Prepare(q) }

func (c *cachingConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.st.Close())
		delete(c.stmts, q)
	}
	return errors.Join(append(errs, c.base.Close())...)
}

//nolint:staticcheck // driver.Conn requires Begin; database/sql calls BeginTx.
func (c *cachingConn) Begin() (driver.Tx, error) { return c.base.Begin() }

func (c *cachingConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return c.base.(driver.ConnBeginTx).BeginTx(ctx, o)
}

func (c *cachingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.base.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.base.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.base.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.base.(driver.Validator).IsValid() }

// stmt returns the cached statement for q, compiling it on first use, or nil
// when it is in use (then the caller takes the uncached path).
func (c *cachingConn) stmt(ctx context.Context, q string) (*cachedStmt, error) {
	if cs, ok := c.stmts[q]; ok {
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	st, err := c.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxCachedStmts {
		for old, cs := range c.stmts { // evict one that is not in use
			if !cs.busy {
				_ = cs.st.Close()
				delete(c.stmts, old)
				break
			}
		}
	}
	cs := &cachedStmt{st: st}
	c.stmts[q] = cs
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.base.(driver.ExecerContext).ExecContext(ctx, q, args)
	}
	return cs.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.base.(driver.QueryerContext).QueryContext(ctx, q, args)
	}
	rows, err := cs.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// cachedRows frees its statement for the next use when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	r.cs.busy = false
	return r.Rows.Close()
}

// ColumnTypeDatabaseTypeName forwards the type names River's scans rely on
// for time columns.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
