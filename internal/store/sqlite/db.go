// Package sqlite keeps the idempotency keys and the payments ledger in one
// SQLite file, through the pure-Go modernc.org/sqlite driver.
//
// # Several processes, one file
//
// Every saas-mcp process on a host (an agent's serve, the webhook receiver,
// a worker) may open the same file. The database runs in WAL mode, so readers
// never block the writer; write transactions begin IMMEDIATE, so two
// processes claiming one key serialise on SQLite's write lock instead of both
// reading "absent" and both sending; and busy_timeout makes a process wait
// for that lock rather than fail.
//
// # Durability
//
// A claim must be on disk before the caller sends anything, or a crash could
// forget a message that was sent. With Synchronous FULL (the default) a
// claim or a ledger record is synced to disk before it returns; other
// writes are not. NORMAL syncs only at checkpoints: a process crash loses
// nothing, a power cut may lose the last commits. The connection itself
// always runs SQLite's synchronous=NORMAL, and the syncs are made after the
// commit: see writer and WALSync.
//
// # Connections
//
// Writes go through one held connection, so goroutines of one process queue
// in Go instead of sleeping in SQLite's busy handler, and statements stay
// prepared; reads use a separate pool of read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tunes Open. The zero value is the safe default.
type Options struct {
	// Synchronous is "FULL" (the default: claims and ledger records are
	// synced to disk, by WALSync, before they return; other writes ride with
	// the next sync) or "NORMAL" (nothing is synced but by SQLite's
	// checkpoints; safe against a process crash, not against a power cut).
	Synchronous string
	// BusyTimeout is how long a write waits for another process's lock
	// before it fails. Default 5s.
	BusyTimeout time.Duration
	// Readers is the size of the read-only pool. Default 4.
	Readers int
	// Now is the clock for recorded_at in the ledger. Default time.Now.
	Now func() time.Time
	// WriteAheadWAL has a store opened FULL write its WAL file ahead in
	// zeros, in the background (walprealloc.go): for the long-running
	// processes whose claims and ledger records each wait for a sync of
	// it, not for a command that only looks (doctor).
	WriteAheadWAL bool
}

// DB is an open SQLite store. It is safe for concurrent use.
type DB struct {
	write *sql.DB // a pool of one connection, held by w
	w     *writer
	lock  *procLock // the writers' flock, shared with other processes
	read  *sql.DB   // read-only connections
	now   func() time.Time
	keys  *Keys
	pays  *Payments
	// walDone is closed when preallocWAL has finished (at once when it
	// does not run).
	walDone chan struct{}
}

// Synchronous checks a SQLite synchronous setting (STORE_SYNC): "" means
// FULL; FULL and NORMAL are accepted in any case.
func Synchronous(s string) (string, error) {
	switch up := strings.ToUpper(s); up {
	case "":
		return "FULL", nil
	case "FULL", "NORMAL":
		return up, nil
	}
	return "", fmt.Errorf("synchronous %q: want FULL or NORMAL", s)
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. Several processes may Open one file at once.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("open sqlite store: path %q must name a file and hold no ? or #", path)
	}
	sync, err := Synchronous(opts.Synchronous)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	params := url.Values{}
	params.Set("_busy_timeout", strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10))
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", sync)
	params.Set("_foreign_keys", "1")
	params.Set("_txlock", "immediate")
	// The tables are small and hot; SQLite's default page cache (2 MiB per
	// connection, five connections) would be most of serve's resident set.
	// 128 KiB: with 512 KiB, serve's peak after 200 calls and 200 tools/list
	// (the Go SDK client's bench run) was 19.8 to 20.4 MiB, with 128 KiB 19.0
	// to 19.4; claims against 40,000 keys were no slower (BenchmarkClaimCommit).
	params.Add("_pragma", "cache_size(-128)")
	write, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)

	db := &DB{write: write, now: opts.Now}
	lock, err := openProcLock(path+".lock", opts.BusyTimeout)
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.lock = lock
	if err := lock.acquire(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: migrate: %w", path, err)
	}
	err = migrate(ctx, write)
	lock.release()
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	var wal *WALSync
	if sync == "FULL" {
		walPath, err := WALPath(ctx, write)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
		wal = NewWALSync(walPath, filepath.Base(path))
	}
	if db.w, err = newWriter(ctx, write, wal); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.w.lock = lock

	params.Set("_txlock", "deferred")
	params.Set("_query_only", "1")
	read, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	read.SetMaxOpenConns(opts.Readers)
	read.SetMaxIdleConns(opts.Readers)
	db.read = read

	if db.keys, err = newKeys(ctx, db); err == nil {
		db.pays, err = newPayments(ctx, db)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.walDone = make(chan struct{})
	if wal != nil && opts.WriteAheadWAL {
		go db.preallocWAL(wal.path)
	} else {
		close(db.walDone) // nothing waits for a sync of the WAL
	}
	return db, nil
}

// Healthy reports the error of a failed sync of the WAL, after which every
// claim and ledger record is refused until a restart; nil otherwise.
func (db *DB) Healthy() error { return db.w.broken() }

// Keys returns the idempotency key store.
func (db *DB) Keys() *Keys { return db.keys }

// Payments returns the payments ledger.
func (db *DB) Payments() *Payments { return db.pays }

// Close closes both pools and their prepared statements.
func (db *DB) Close() error {
	if db.walDone != nil {
		<-db.walDone
	}
	var errs []error
	if db.keys != nil {
		errs = append(errs, db.keys.close())
	}
	if db.pays != nil {
		errs = append(errs, db.pays.close())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.close())
		if db.w.wal != nil {
			errs = append(errs, db.w.wal.Close())
		}
	}
	errs = append(errs, db.write.Close())
	if db.lock != nil {
		errs = append(errs, db.lock.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// Times are stored as int64 Unix nanoseconds, which hold 1677-09-21 to
// 2262-04-11 only.
var (
	minNanos = time.Unix(0, math.MinInt64).UTC()
	maxNanos = time.Unix(0, math.MaxInt64).UTC()
)

// errTimeRange is the error binding a time outside [minNanos, maxNanos].
var errTimeRange = fmt.Errorf("outside the times the SQLite store can hold (%s to %s)",
	minNanos.Format(time.RFC3339Nano), maxNanos.Format(time.RFC3339Nano))

// nanos stores a time as Unix nanoseconds; the zero time is stored as 0.
//
// It is checked when the statement binds it, not converted here: outside
// the int64 range UnixNano wraps, so a key kept past 2262 (a long
// IDEMPOTENCY_KEY_TTL) would be stored as already expired and its retry
// would act again. The statement fails with errTimeRange instead, before
// anything is written.
func nanos(t time.Time) storedTime { return storedTime{t} }

// storedTime is a time bound as a statement argument; see nanos.
type storedTime struct{ t time.Time }

// Value implements driver.Valuer.
func (s storedTime) Value() (driver.Value, error) {
	if s.t.IsZero() {
		return int64(0), nil
	}
	if s.t.Before(minNanos) || s.t.After(maxNanos) {
		return nil, fmt.Errorf("time %s: %w", s.t.UTC().Format(time.RFC3339Nano), errTimeRange)
	}
	return s.t.UnixNano(), nil
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// prepare prepares every statement in qs on db, closing them all on error.
func prepare(ctx context.Context, db *sql.DB, qs ...string) ([]*sql.Stmt, error) {
	out := make([]*sql.Stmt, 0, len(qs))
	for _, q := range qs {
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeStmts(out)
			return nil, fmt.Errorf("prepare %q: %w", firstLine(q), err)
		}
		out = append(out, s)
	}
	return out, nil
}

func closeStmts(stmts []*sql.Stmt) error {
	var errs []error
	for _, s := range stmts {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i]
	}
	return q
}
