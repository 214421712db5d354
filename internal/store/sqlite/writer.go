package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// writer owns the one connection that writes. Holding a single connection,
// rather than borrowing from a pool, keeps every write statement prepared
// once for the life of the store and lets a write choose its durability.
//
// Durability: with Synchronous FULL, a claim (and a ledger record) syncs the
// WAL before it returns. Commit, MarkInDoubt, Release and Extend run with
// synchronous NORMAL: they reach the disk with the next sync, and losing one
// in a power cut is safe, because the row is left claimed by a process that
// no longer runs, which the next Claim treats as in doubt and reconciles.
// That halves the syncs of a tool call.
type writer struct {
	sem  chan struct{} // held while using conn; a channel so waiting obeys ctx
	conn *sql.Conn
	// lock is the file every process's writer flocks for the length of a
	// write (procLock); nil writes without it (tests of one process).
	lock *procLock
	// full is true when the store was opened with Synchronous FULL.
	full bool
	// mode is the connection's synchronous setting: "FULL", "NORMAL", or ""
	// when unknown (after a failed PRAGMA), which forces the next write to set it.
	mode string
}

func newWriter(ctx context.Context, db *sql.DB, synchronous string) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("take write connection: %w", err)
	}
	return &writer{sem: make(chan struct{}, 1), conn: conn, full: synchronous == "FULL", mode: synchronous}, nil
}

// do runs f with the connection to itself. durable asks that f's commits be
// synced before they return (only meaningful when the store is FULL).
//
// Only the wait for the connection obeys ctx. f gets a context that is
// never cancelled, and must use it for every statement: the driver reports
// ctx's error for a statement that ran when ctx ended meanwhile, so a
// BEGIN that succeeded would look failed and leave the connection inside a
// transaction holding the file's write lock (every later claim then fails,
// or commits nowhere), and a claim that is on disk would be reported as
// not made. A statement waits for another process's lock at most
// busy_timeout, so f cannot hang on a cancelled caller for long.
func (w *writer) do(ctx context.Context, durable bool, f func(ctx context.Context) error) error {
	// A context already ended is refused every time, as PostgreSQL's store
	// does: with the writer free, the select below picks either case at
	// random, and the write went ahead about half the time (found in
	// review).
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for write connection: %w", err)
	}
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for write connection: %w", ctx.Err())
	}
	defer func() { <-w.sem }()
	if w.lock != nil {
		if err := w.lock.acquire(ctx); err != nil {
			return err
		}
		defer w.lock.release()
	}
	ctx = context.WithoutCancel(ctx)
	if err := w.setMode(ctx, durable); err != nil {
		return err
	}
	return f(ctx)
}

func (w *writer) setMode(ctx context.Context, durable bool) error {
	want := "NORMAL"
	if durable && w.full {
		want = "FULL"
	}
	if w.mode == want {
		return nil
	}
	w.mode = ""
	if _, err := w.conn.ExecContext(ctx, "PRAGMA synchronous = "+want); err != nil {
		return fmt.Errorf("set synchronous %s: %w", want, err)
	}
	w.mode = want
	return nil
}

// tx runs f inside BEGIN IMMEDIATE ... COMMIT on the held connection, rolling
// back if f fails. It must be called from inside do. IMMEDIATE takes the
// write lock up front, so another process cannot slip a write in between
// f's read and its write.
func (w *writer) tx(ctx context.Context, f func() (commit bool, err error)) error {
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	commit, err := f()
	if err != nil || !commit {
		// Roll back even when ctx is done: the connection must not stay
		// inside a transaction holding the file's write lock.
		if _, rbErr := w.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		if _, rbErr := w.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// prepare prepares statements on the held connection.
func (w *writer) prepare(ctx context.Context, qs ...string) ([]*sql.Stmt, error) {
	out := make([]*sql.Stmt, 0, len(qs))
	for _, q := range qs {
		s, err := w.conn.PrepareContext(ctx, q)
		if err != nil {
			_ = closeStmts(out)
			return nil, fmt.Errorf("prepare %q: %w", firstLine(q), err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (w *writer) close() error {
	return w.conn.Close()
}
