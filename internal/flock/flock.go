// Package flock takes an exclusive flock(2) on a file while honouring a
// context and a time limit, which a blocking flock cannot: the lock is
// polled, at most a millisecond apart, so a waiter gets in within a
// millisecond of its release (SQLite's busy handler, by contrast, sleeps up
// to 100 ms between tries and lets a busy process take the lock again and
// again).
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Lock takes f's exclusive flock, waiting until ctx ends or, when limit > 0,
// at most limit.
func Lock(ctx context.Context, f *os.File, limit time.Duration) error {
	var deadline time.Time
	if limit > 0 {
		deadline = time.Now().Add(limit)
	}
	pause := 20 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("another process has held the lock for %s", limit)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, time.Millisecond)
	}
}

// Unlock releases f's flock.
func Unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
