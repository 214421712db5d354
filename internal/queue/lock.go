package queue

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// WorkerLock proves that a worker process is alive: it holds an flock on
// DIR/<id>.lock for as long as it runs, and the kernel drops the lock when
// the process dies, however it dies. Its ID is the River client ID, so the
// client recorded in a running job's attempted_by can be checked.
type WorkerLock struct {
	ID   string
	f    *os.File
	path string
}

// lockPrefix marks client IDs that have a lock file.
const lockPrefix = "saas-mcp-"

// NewWorkerLock creates and locks a new lock file in dir.
func NewWorkerLock(dir string) (*WorkerLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("worker lock: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%s%d-%s", lockPrefix, os.Getpid(), hex.EncodeToString(b[:]))
	path := filepath.Join(dir, id+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("worker lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("worker lock %s: %w", path, err)
	}
	return &WorkerLock{ID: id, f: f, path: path}, nil
}

// Release unlocks and removes the lock file.
func (l *WorkerLock) Release() error {
	err := os.Remove(l.path)
	return errors.Join(err, l.f.Close())
}

// AliveIn returns a liveness check for client IDs with lock files in dir. A
// client is alive while its lock file is locked; an ID without a lock file
// (or not made by NewWorkerLock) is taken for dead, and a dead client's
// lock file is removed.
func AliveIn(dir string) func(clientID string) bool {
	return func(id string) bool {
		if !strings.HasPrefix(id, lockPrefix) || strings.ContainsAny(id, `/\`) {
			return false
		}
		path := filepath.Join(dir, id+".lock")
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return false
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return true // someone holds it
		}
		_ = os.Remove(path)
		return false
	}
}
