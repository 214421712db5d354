package config

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// quickFile (EnvRedactor, run by printErr as every command fails) checked
// the path with os.Stat and then opened it by name again. A NAME_FILE whose
// target changes between the two (a secret mount's symlink swapped, as
// Kubernetes does on update, here to a FIFO) was opened as a FIFO with no
// writer, and os.Open blocked forever: the command hung on its error
// (found in review). It opens with O_NONBLOCK and checks the opened file.
func TestEnvRedactorNeverBlocksOnANameFileSwappedAfterStat(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	fifo := filepath.Join(dir, "fifo")
	link := filepath.Join(dir, "secret")
	if err := os.WriteFile(reg, []byte("whsec_Kq8vR2mXw9LpZt4Hn7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.Symlink(reg, link); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == StripeWebhookSecret+"_FILE" {
			return link
		}
		return ""
	}

	var stop atomic.Bool
	swapped := make(chan struct{})
	go func() { // swap link between the regular file and the FIFO, atomically
		defer close(swapped)
		tmp := filepath.Join(dir, "tmp")
		for i := 0; !stop.Load(); i++ {
			to := reg
			if i%2 == 1 {
				to = fifo
			}
			_ = os.Remove(tmp)
			if os.Symlink(to, tmp) == nil {
				_ = os.Rename(tmp, link)
			}
		}
	}()

	var calls atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			EnvRedactor(getenv)
			calls.Add(1)
		}
	}()

	deadline := time.Now().Add(8 * time.Second)
	last, lastChange := int64(-1), time.Now()
	blocked := false
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if n := calls.Load(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > time.Second {
			blocked = true
			break
		}
	}
	stop.Store(true)
	<-swapped
	if blocked {
		// Release the reader stuck in open(2) so the test can end.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if blocked {
		t.Fatalf("EnvRedactor blocked for over a second after %d calls: quickFile opened a FIFO it had stat'ed as a regular file", last)
	}
}
