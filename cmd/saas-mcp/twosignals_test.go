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

// Two signals sent back to back end the process too (found in review: the
// second was dropped when it came before the watch for it began).
//
// Two signals sent back to back (kill -TERM twice, a supervisor and an
// operator, a Ctrl-C pressed twice quickly): the second arrives before
// exitOnSecondSignal has registered its channel (it registers only after
// ctx is done). signal.NotifyContext's channel, still registered and with
// its one buffered slot full, drops it, and the process waits out the
// whole WEBHOOK_DRAIN_DELAY although it was signalled twice.
func TestTwoSignalsBackToBackEndTheDrainDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for i := 0; i < 5; i++ {
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
		require.Eventually(t, func() bool {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return true
		}, 20*time.Second, 20*time.Millisecond)
		require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGTERM))
		require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("run %d: signalled twice, still draining 5s later: %s", i, out.String())
		}
	}
}
