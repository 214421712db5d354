package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLongRunningCommandsGiveBackTheirStartUpPages: webhooks and worker,
// like serve, drop the binary's start-up-only pages once they are running
// (package startpages), and keep working on the pages faulted back in.
func TestLongRunningCommandsGiveBackTheirStartUpPages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, args := range [][]string{{"webhooks"}, {"webhooks", "--no-worker"}, {"worker"}} {
		t.Run(args[len(args)-1], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			addr := freeAddr(t)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "DATA_DIR="+filepath.Join(dir, "data"), "AUDIT_LOG_PATH="+filepath.Join(dir, "audit.ndjson"),
				"WEBHOOK_ADDR="+addr, "LOG_LEVEL=debug", "GITHUB_WEBHOOK_SECRET=startpages-secret")
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			require.Eventually(t, func() bool { return bytes.Contains([]byte(out.String()), []byte(`"msg":"released start-up pages"`)) },
				20*time.Second, 20*time.Millisecond, "output: %s", &out)
			if args[0] == "webhooks" {
				res, err := http.Get("http://" + addr + "/healthz")
				require.NoError(t, err)
				_ = res.Body.Close()
				assert.Equal(t, http.StatusOK, res.StatusCode)
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, cmd.Wait(), "output: %s", &out)
		})
	}
}
