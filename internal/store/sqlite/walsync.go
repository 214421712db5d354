package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
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
// callers that commit at once share it: a caller that waited while another
// caller's sync ran returns without a flush of its own when a sync that
// began after its call has succeeded meanwhile (group commit). A sync that
// began before the call may have missed the caller's commit and never
// counts for it.
//
// After a failed fdatasync it refuses for good: the kernel may have dropped
// the pages it could not write, and a later fdatasync would succeed without
// them.
type WALSync struct {
	path string        // the WAL file (WALPath)
	what string        // for errors: "state.db" etc.
	sem  chan struct{} // held through a sync; a channel, so that waiting obeys ctx
	f    *os.File
	// closed: Close was called; a later Sync fails instead of opening
	// the file again, which nothing would close. Guarded by sem.
	closed bool
	// failed is the sticky error, read without sem: a claim checks it
	// before writing, and must not wait for another claim's sync to do so
	// (found in review: it waited, past its context, for a flush that may
	// never end on a hung disk).
	failed atomic.Pointer[error]
	syncs  atomic.Int64
	// begun numbers the syncs as they begin (under sem), and done is the
	// number of the last one that succeeded: a caller is covered by any
	// sync numbered above what begun was when it called.
	begun, done atomic.Int64
	shared      atomic.Int64 // calls covered by another caller's sync
	// flush is fdatasync(2); tests replace it to hold a sync in progress.
	flush func(fd int) error
}

// NewWALSync syncs the WAL file at walPath (see WALPath); what names the
// database in errors. The file is opened now if it exists, so that a
// write-back error from here on is reported to this process's fdatasync
// even if another handle (SQLite's own checkpoint) sees it first.
func NewWALSync(walPath, what string) *WALSync {
	s := &WALSync{path: walPath, what: what, sem: make(chan struct{}, 1), flush: syscall.Fdatasync}
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
//
// Waiting for a sync under way (another caller's, which may cover this
// caller's commit or not) gives up when ctx ends: the caller's commit is
// then not known to be on disk (found in review: a claim whose context had
// ended waited for another claim's device flush, for ever on a hung disk).
func (s *WALSync) Sync(ctx context.Context) error {
	// The caller's commit is in the WAL by now, so any sync that begins
	// from here on covers it.
	need := s.begun.Load() + 1
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sync %s WAL: %w", s.what, ctx.Err())
	}
	defer func() { <-s.sem }()
	if err := s.Err(); err != nil {
		return err
	}
	if s.closed {
		return fmt.Errorf("sync %s WAL: closed", s.what)
	}
	if s.done.Load() >= need {
		s.shared.Add(1)
		return nil
	}
	n := s.begun.Add(1)
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
	if err := s.flush(int(s.f.Fd())); err != nil {
		err = fmt.Errorf("sync %s WAL (refusing durable writes until restarted): %w", s.what, err)
		s.failed.Store(&err)
		return err
	}
	s.syncs.Add(1)
	s.done.Store(n)
	return nil
}

// Err is the sticky error of a failed sync, or nil. It does not wait for a
// sync under way.
func (s *WALSync) Err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Syncs counts the successful syncs, for tests.
func (s *WALSync) Syncs() int64 { return s.syncs.Load() }

// Shared counts the calls that another caller's sync covered.
func (s *WALSync) Shared() int64 { return s.shared.Load() }

// Close closes the file it holds.
func (s *WALSync) Close() error {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	s.closed = true
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
