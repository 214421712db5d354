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

// A second SIGINT or SIGTERM (an operator's second Ctrl-C) ends the
// process while the first one's graceful stop waits out WEBHOOK_DRAIN_DELAY
// (found in review: signal.NotifyContext kept catching them until run
// returned, so only SIGKILL ended a receiver with a long drain delay).
func TestASecondSignalEndsTheDrainDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
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
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("still draining 10s after a second signal: %s", out.String())
	}
}
