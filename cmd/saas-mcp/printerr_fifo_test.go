package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// printErr now builds config.Redactor(getenv) at error time, which reads
// every secret variable's NAME_FILE, also those the failing command never
// read. `webhooks dead` with no queue in DATA_DIR used to say so at once;
// with GITHUB_TOKEN_FILE (a serve credential it does not use) naming a
// FIFO, it now blocks in os.ReadFile inside printErr and never exits.
// Not parallel: the command reads the process environment.
func TestWebhooksDeadWithoutAQueueExitsEvenIfAnUnusedSecretFileIsAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	t.Setenv("GITHUB_TOKEN_FILE", fifo)
	done := make(chan int, 1)
	go func() {
		code, _, _ := reviewRun(t, 10*time.Second, "webhooks", "dead")
		done <- code
	}()
	select {
	case code := <-done:
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
	case <-time.After(3 * time.Second):
		// Release the reader blocked on the FIFO, so the goroutine ends.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			_ = f.Close()
		}
		<-done
		t.Fatal("saas-mcp webhooks dead did not exit within 3s: printErr blocked reading GITHUB_TOKEN_FILE")
	}
}
