package audit

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An append waits for the audit log's flock only as long as its context
// (and at most lockWait): another holder that keeps it (a process stopped
// with SIGSTOP or a debugger in the middle of its append, an operator's
// `flock` on the file) must not freeze every tool call of serve.
func TestAnAppendStopsWaitingForAnotherHoldersFlockWhenItsContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()

	other, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, syscall.Flock(int(other.Fd()), syscall.LOCK_EX))
	defer func() { _ = syscall.Flock(int(other.Fd()), syscall.LOCK_UN) }()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Write(ctx, Record{Actor: "a", Action: "x", Status: StatusStarted}) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = syscall.Flock(int(other.Fd()), syscall.LOCK_UN)
		<-done
		t.Fatal("audit.Write still blocked 2s after its 200ms context ended: it waits for the flock with no bound")
	}
}
