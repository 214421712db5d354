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
// Durability: the connection always runs synchronous NORMAL. With
// Synchronous FULL, a claim (and a ledger record) that wrote something syncs
// the WAL (wal, a WALSync) after its commit, once the locks are let go, and
// before it returns. Commit, MarkInDoubt, Release and Extend do not sync:
// they reach the disk with the next sync, and losing one in a power cut is
// safe, because the row is left claimed by a process that no longer runs,
// which the next Claim treats as in doubt and reconciles. That halves the
// syncs of a tool call.
type writer struct {
	sem  chan struct{} // held while using conn; a channel so waiting obeys ctx
	conn *sql.Conn
	// lock is the file every process's writer flocks for the length of a
	// write (procLock); nil writes without it (tests of one process).
	lock *procLock
	// wal syncs the WAL for durable writes; nil when the store was opened
	// with Synchronous NORMAL.
	wal *WALSync
}

// newWriter takes db's one connection for itself and sets it to synchronous
// NORMAL; wal is nil for a NORMAL store.
func newWriter(ctx context.Context, db *sql.DB, wal *WALSync) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("take write connection: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("set synchronous NORMAL: %w", err)
	}
	return &writer{sem: make(chan struct{}, 1), conn: conn, wal: wal}, nil
}

// durable makes every commit so far durable (a no-op in a NORMAL store).
// Call it after do has returned, so that no lock is held through the sync.
func (w *writer) durable(ctx context.Context) error {
	if w.wal == nil {
		return nil
	}
	return w.wal.Sync(ctx)
}

// broken is the error of an earlier failed sync (nil in a NORMAL store):
// a durable write checks it before it writes anything, so that a claim
// refused for it leaves no row claiming its key (found in review: each
// refused call's key was left claimed, then listed in doubt at the next
// start, as if it might have acted).
func (w *writer) broken() error {
	if w.wal == nil {
		return nil
	}
	return w.wal.Err()
}

// do runs f with the connection to itself.
//
// Only the wait for the connection obeys ctx. f gets a context that is
// never cancelled, and must use it for every statement: the driver reports
// ctx's error for a statement that ran when ctx ended meanwhile, so a
// BEGIN that succeeded would look failed and leave the connection inside a
// transaction holding the file's write lock (every later claim then fails,
// or commits nowhere), and a claim that is on disk would be reported as
// not made. A statement waits for another process's lock at most
// busy_timeout, so f cannot hang on a cancelled caller for long.
func (w *writer) do(ctx context.Context, f func(ctx context.Context) error) error {
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
	return f(context.WithoutCancel(ctx))
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
