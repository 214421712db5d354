package main

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// doctor checks the audit log without opening what is not a regular file:
// opening a FIFO with no reader for writing blocks forever (serve opens it
// read-write, which does not block, and appends fine with AUDIT_SYNC=never).
func TestDoctorDoesNotHangOnAFIFOAuditLog(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "audit.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	t.Setenv("AUDIT_LOG_PATH", fifo)
	t.Setenv("AUDIT_SYNC", "never")
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	done := make(chan int, 1)
	go func() {
		var out, errb bytes.Buffer
		done <- runDoctor(context.Background(), nil, &out, &errb)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("doctor is still blocked opening the FIFO audit log after 3s")
	}
}

// Under AUDIT_SYNC=always (the default) serve refuses a FIFO or a device as
// its audit log (it cannot be synced), so doctor says so too (review
// observation), without opening it.
func TestDoctorRefusesAFIFOAuditLogThatMustBeSynced(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "audit.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	t.Setenv("AUDIT_LOG_PATH", fifo)
	t.Setenv("AUDIT_SYNC", "always")
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- runDoctor(context.Background(), nil, &out, &errb) }()
	select {
	case code := <-done:
		require.Equal(t, 1, code)
		require.Contains(t, errb.String(), "AUDIT_SYNC=never")
	case <-time.After(3 * time.Second):
		t.Fatal("doctor is still blocked opening the FIFO audit log after 3s")
	}
}
