package sqlite

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/flock"
)

// procLock queues the writers of every process sharing one database file.
//
// Each process writes through one connection, and SQLite's own lock makes a
// writer of another process wait in its busy handler, which sleeps longer
// and longer between tries (up to 100 ms) and gives up after busy_timeout.
// A process that writes in a loop (a worker recording payments) takes the
// lock again microseconds after each commit, so a serve waiting for its
// claim could sleep through hundreds of them and fail with "database is
// locked" although the store is healthy. Every write first takes this flock
// instead (package flock), so a waiter gets in within a millisecond of a
// commit; SQLite's lock is then free when it asks.
type procLock struct {
	f       *os.File
	timeout time.Duration // give up after this long (busy_timeout)
}

func openProcLock(path string, timeout time.Duration) (*procLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open write lock: %w", err)
	}
	return &procLock{f: f, timeout: timeout}, nil
}

// acquire takes the flock, waiting at most timeout or until ctx ends.
func (l *procLock) acquire(ctx context.Context) error {
	if err := flock.Lock(ctx, l.f, l.timeout); err != nil {
		return fmt.Errorf("take write lock: %w", err)
	}
	return nil
}

func (l *procLock) release() { _ = flock.Unlock(l.f) }

func (l *procLock) close() error { return l.f.Close() }
