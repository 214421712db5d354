package queue

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/saas-mcp/saas-mcp/internal/dirs"
	"github.com/saas-mcp/saas-mcp/internal/flock"
	"github.com/saas-mcp/saas-mcp/internal/store/migration"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// FileName is the database file under DATA_DIR.
const FileName = "webhooks.db"

// Options tunes Open. The zero value is the safe default.
type Options struct {
	// Synchronous is "FULL" (default: a delivery answered 2xx survives a
	// power cut, by its synced segment record, and so does a state change
	// made through TxDurable, by SyncWAL) or "NORMAL" (survives a crash of the
	// process only). Intake commits and River's own bookkeeping commits are
	// never synced on their own: a lost intake commit is rebuilt from the
	// segment, and a lost River commit re-runs a job, whose handlers are
	// idempotent.
	Synchronous string
	// BusyTimeout is how long a write waits for another process (a separate
	// worker) holding the write lock. Default 10s.
	BusyTimeout time.Duration
	// Now is the clock for received_at and processed_at. Default time.Now.
	Now func() time.Time
	// CheckpointEvery is how often a background connection copies the WAL
	// into the database file while it is written (see checkpoint.go).
	// Default DefaultCheckpointEvery; negative turns it off.
	CheckpointEvery time.Duration
}

// DB is the deliveries database. It is safe for concurrent use.
type DB struct {
	write *sql.DB // one connection: intake, River, state changes
	read  *sql.DB // read-only pool: payloads and listings
	now   func() time.Time
	path  string
	ins   *insertStmts
	segs  *segments     // payloads of deliveries stored by an Intake
	ckpt  *checkpointer // nil when Options.CheckpointEvery < 0

	// wal syncs the WAL; set under Options.Synchronous "FULL" (fullSync):
	// intake batches are then answered after their segment is synced and
	// TxDurable commits are followed by SyncWAL. The connection itself runs
	// synchronous=NORMAL, so that no fsync holds the write lock.
	wal *sqlite.WALSync
}

// Open opens (creating if needed) the database at path, applies River's
// migrations and ours, and prepares the intake statements. What a crash
// left in the payload segments is mended by NewIntake, which alone may
// write them (recover.go).
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open webhook queue: path %q must name a file and hold no ? or #", path)
	}
	sync, err := sqlite.Synchronous(opts.Synchronous)
	if err != nil {
		return nil, fmt.Errorf("open webhook queue: %w", err)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := dirs.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open webhook queue: %w", err)
	}
	write, err := openCached(dsn(path, "NORMAL", opts.BusyTimeout, false))
	if err != nil {
		return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	db := &DB{write: write, now: opts.Now, path: path}
	if err := db.migrate(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
	}
	if sync == "FULL" {
		walPath, err := sqlite.WALPath(ctx, write)
		if err != nil {
			_ = write.Close()
			return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
		}
		db.wal = sqlite.NewWALSync(walPath, "webhook queue")
	}
	if db.segs, err = openSegments(path); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
	}
	db.read, err = sql.Open("sqlite", dsn(path, "NORMAL", opts.BusyTimeout, true))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
	}
	db.read.SetMaxOpenConns(4)
	db.read.SetMaxIdleConns(4)
	if db.ins, err = prepareInserts(ctx, write); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.CheckpointEvery > 0 {
		if db.ckpt, err = startCheckpointer(path, opts.BusyTimeout, opts.CheckpointEvery); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open webhook queue %s: %w", path, err)
		}
	}
	return db, nil
}

// dsn builds the connection string. The order of the pragmas matters:
// page_size only takes effect on a new file before it switches to WAL. Pages
// stay at 4 KiB although a payload spans two: every commit rewrites whole
// index and job-table pages, and larger pages made those rewrites cost more
// than they saved on payloads (measured). The automatic checkpoint keeps its
// default of 1000 pages: larger WALs raised throughput at 64 connections but
// tripled p99 at 16. It is the bound on the WAL; the copying is done
// beforehand by the background checkpointer (checkpoint.go), which alone
// would let the WAL grow without bound under sustained load.
func dsn(path, sync string, busy time.Duration, readOnly bool) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(path)
	b.WriteString("?_pragma=page_size(4096)&_pragma=journal_mode(WAL)")
	b.WriteString("&_pragma=synchronous(" + sync + ")")
	b.WriteString("&_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")")
	b.WriteString("&_pragma=cache_size(-16384)") // 16 MiB: the hot pages of a batch stay in memory
	if readOnly {
		b.WriteString("&_pragma=query_only(1)")
	} else {
		b.WriteString("&_txlock=immediate")
	}
	return b.String()
}

// migrate brings River's tables and ours up to date, one process at a time:
// River's migrator reads the applied versions outside any transaction, so a
// receiver and a worker starting together on a new DATA_DIR would both
// apply version 1 and one of them fail ("table ... already exists"). An
// flock on a file beside the database serialises them; the second finds
// everything applied.
func (db *DB) migrate(ctx context.Context) error {
	lock, err := os.OpenFile(db.path+".migrate.lock", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer lock.Close() // releases the flock
	if err := flock.Lock(ctx, lock, 0); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	m, err := rivermigrate.New(riversqlite.New(db.write), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	all, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The version is kept in PRAGMA user_version (River's tables have their
	// own record), as it has been since the first release of this file.
	err = migration.Apply(ctx, all, migration.Steps{
		Newest: func(ctx context.Context) (int, error) {
			var v int
			err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
			return v, err
		},
		Exec: func(ctx context.Context, sql string) error {
			_, err := tx.ExecContext(ctx, sql)
			return err
		},
		Record: func(ctx context.Context, m migration.Migration) error {
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version))
			return err
		},
	})
	if err != nil {
		return fmt.Errorf("webhook queue: %w", err)
	}
	return tx.Commit()
}

// migrationFiles are the queue's schema changes (NNNN_what.sql), applied in
// version order by migration.Apply and never edited once released.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// SyncWAL makes every transaction committed so far durable: the connection
// runs synchronous=NORMAL, which writes the WAL at commit without syncing
// it, and this fdatasyncs the WAL file. One call covers every commit before
// it, so concurrent committers share it (group commit). Under
// Options.Synchronous "NORMAL" it does nothing.
func (db *DB) SyncWAL() error {
	if !db.fullSync() {
		return nil
	}
	return db.wal.Sync(context.Background())
}

// fullSync reports whether the queue was opened with Synchronous "FULL".
func (db *DB) fullSync() bool { return db.wal != nil }

// Path returns the database file.
func (db *DB) Path() string { return db.path }

// Writer returns the single-connection write pool, for River.
func (db *DB) Writer() *sql.DB { return db.write }

// Ping checks that the database answers and its WAL can still be synced,
// for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	if db.wal != nil {
		if err := db.wal.Err(); err != nil {
			return err
		}
	}
	db.segs.mu.Lock()
	serr := db.segs.syncErr
	db.segs.mu.Unlock()
	if serr != nil {
		return serr
	}
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping webhook queue: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	var errs []error
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.close())
	}
	if db.ins != nil {
		errs = append(errs, db.ins.close())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}

	errs = append(errs, db.write.Close())
	if db.segs != nil {
		errs = append(errs, db.segs.close())
	}
	if db.wal != nil {
		errs = append(errs, db.wal.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close webhook queue: %w", err)
	}
	return nil
}
