package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// WALSync makes a database's committed transactions durable by
// fdatasyncing its WAL file, for connections that run synchronous=NORMAL
// (which write their frames into the WAL at commit and leave syncing to the
// next checkpoint).
//
// Why not synchronous=FULL: FULL syncs inside COMMIT, holding SQLite's write
// lock (and this package's cross-process flock) through the device flush, so
// every other writer waits for it; and a connection that mixes synced and
// unsynced writes must switch with a PRAGMA each time, which costs more CPU
// than the statements of a claim. Syncing the file after the commit is just
// as durable: the commit's frames are in the WAL, and a later checkpoint only
// copies them into the database after syncing the WAL itself (SQLite syncs
// the WAL before a checkpoint and the database after it, under NORMAL), and
// starts the WAL again from the top only once every frame is in the synced
// database. One Sync covers every commit before it, in any process, so
// callers that commit at once share it.
//
// After a failed fdatasync it refuses for good: the kernel may have dropped
// the pages it could not write, and a later fdatasync would succeed without
// them.
type WALSync struct {
	path  string // the WAL file (WALPath)
	what  string // for errors: "state.db" etc.
	mu    sync.Mutex
	f     *os.File
	err   error // sticky
	syncs atomic.Int64
}

// NewWALSync syncs the WAL file at walPath (see WALPath); what names the
// database in errors. The file is opened now if it exists, so that a
// write-back error from here on is reported to this process's fdatasync
// even if another handle (SQLite's own checkpoint) sees it first.
func NewWALSync(walPath, what string) *WALSync {
	s := &WALSync{path: walPath, what: what}
	if f, err := os.Open(walPath); err == nil {
		s.f = f
	}
	return s
}

// WALPath returns the WAL file of db's main database: the path SQLite
// resolved for it (absolute, symlinks followed, as SQLite names its WAL
// after) plus "-wal". Syncing path+"-wal" as given would sync another file,
// or none, when the database is reached through a symlink (found in
// review) or a relative path after a change of directory.
func WALPath(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", fmt.Errorf("find the WAL: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var (
			seq        int
			name, file string
		)
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", fmt.Errorf("find the WAL: %w", err)
		}
		if name == "main" && file != "" {
			return file + "-wal", nil
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("find the WAL: %w", err)
	}
	return "", errors.New("find the WAL: the main database has no file")
}

// Sync fdatasyncs the WAL file as it is now. The file is opened once and
// reopened when SQLite has deleted and recreated it (the last connection
// to close a database deletes its WAL, after checkpointing it: the old
// file's frames are in the synced database by then).
func (s *WALSync) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("sync %s WAL: %w", s.what, err)
	}
	if s.f != nil {
		if cur, err := s.f.Stat(); err != nil || !os.SameFile(cur, st) {
			_ = s.f.Close()
			s.f = nil
		}
	}
	if s.f == nil {
		if s.f, err = os.Open(s.path); err != nil {
			return fmt.Errorf("sync %s WAL: %w", s.what, err)
		}
	}
	if err := syscall.Fdatasync(int(s.f.Fd())); err != nil {
		s.err = fmt.Errorf("sync %s WAL (refusing durable writes until restarted): %w", s.what, err)
		return s.err
	}
	s.syncs.Add(1)
	return nil
}

// Err is the sticky error of a failed sync, or nil.
func (s *WALSync) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Syncs counts the successful syncs, for tests.
func (s *WALSync) Syncs() int64 { return s.syncs.Load() }

// Close closes the file it holds.
func (s *WALSync) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
