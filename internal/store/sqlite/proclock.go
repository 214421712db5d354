package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
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
// instead, polled at most a millisecond apart, so a waiter gets in within a
// millisecond of a commit; SQLite's lock is then free when it asks.
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
	deadline := time.Now().Add(l.timeout)
	pause := 20 * time.Microsecond
	for {
		err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("take write lock: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("take write lock: another process held it for %s", l.timeout)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for write lock: %w", ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, time.Millisecond)
	}
}

func (l *procLock) release() { _ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN) }

func (l *procLock) close() error { return l.f.Close() }
