package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A second SIGINT or SIGTERM (an operator's second Ctrl-C) ends the process
// while the first one's graceful stop waits out WEBHOOK_DRAIN_DELAY, whether
// it comes a while after the first or right behind it. Found in review:
// signal.NotifyContext kept catching them until run returned, so only
// SIGKILL ended a receiver with a long drain delay; then, once watched, a
// second signal sent right behind the first was dropped, as the watch began
// only after the first had arrived.
func TestASecondSignalEndsTheDrainDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	tests := []struct {
		name   string
		gap    time.Duration
		rounds int // back to back, a lost signal shows in some runs only
	}{
		{"half a second after the first", 500 * time.Millisecond, 1},
		{"right behind the first", 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range tt.rounds {
				cmd, done, out := startDrainingReceiver(t, bin)
				require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGTERM))
				time.Sleep(tt.gap)
				require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("run %d: signalled twice, still draining 10s later: %s", i, out.String())
				}
			}
		})
	}
}

// startDrainingReceiver starts `webhooks` with an hour's drain delay and
// waits until it answers; done gets its exit.
func startDrainingReceiver(t *testing.T, bin string) (*exec.Cmd, <-chan error, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "webhooks")
	cmd.Env = append(os.Environ(), "DATA_DIR="+filepath.Join(dir, "data"), "AUDIT_LOG_PATH="+filepath.Join(dir, "audit.ndjson"),
		"WEBHOOK_ADDR="+addr, "WEBHOOK_DRAIN_DELAY=1h", "LOG_LEVEL=warn")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 20*time.Second, 20*time.Millisecond)
	return cmd, done, out
}
