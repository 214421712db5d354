package audit

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Healthy is the webhook receiver's /readyz. While an append waits for the
// log's flock (up to lockWait, 5 s; another process holds it, stopped in
// the middle of its append), Healthy must answer at once: a load balancer's
// probe that times out learns nothing, and the receiver looks hung. The
// flock is held until Healthy has returned, so the append is still waiting
// (it holds the Writer's mutex) when Healthy answers, or Healthy waited for
// it to give up.
func TestHealthyAnswersWhileAnAppendWaitsForAnotherProcessFlock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	other, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, syscall.Flock(int(other.Fd()), syscall.LOCK_EX))

	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), Record{Actor: "a", Status: StatusStarted}) }()
	// Wait until the append holds the Writer's mutex (it then waits for the
	// flock); the deadline is only a failsafe.
	for deadline := time.Now().Add(lockWait); ; runtime.Gosched() {
		if !w.mu.TryLock() {
			break
		}
		w.mu.Unlock()
		require.True(t, time.Now().Before(deadline), "the append never started")
	}

	healthy := w.Healthy()
	appendWaiting := !w.mu.TryLock()
	if !appendWaiting {
		w.mu.Unlock()
	}
	require.NoError(t, syscall.Flock(int(other.Fd()), syscall.LOCK_UN))
	written := <-done
	require.True(t, appendWaiting, "Healthy answered only once the append waiting for the flock gave up")
	require.NoError(t, healthy, "nothing has failed yet")
	require.NoError(t, written, "the append goes on once the flock is released")
}
