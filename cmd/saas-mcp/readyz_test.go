package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadyzIsNotReadyWhileReceiptsCannotBeAudited: the receiver refused
// every delivery whose receipt could not be audited (503), and /readyz
// answered "ready" while the audit log could not be written (here a full
// disk: /dev/full), so a load balancer kept sending to it (found in
// review). A receipt is now audited just after the answer, with the
// delivery's row: the delivery is kept (202), and /readyz says 503 until
// receipts are audited again.
func TestReadyzIsNotReadyWhileReceiptsCannotBeAudited(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", "/dev/full")
	t.Setenv("AUDIT_SYNC", "never") // a device cannot be synced: under "always" the receiver would not start at all
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	t.Setenv("GITHUB_WEBHOOK_SECRET", "review-secret")
	t.Setenv("LOG_LEVEL", "error")

	base, _ := runReceiver(t, addr)
	require.Equal(t, http.StatusAccepted, sendGitHub(t, base, "review-secret", "guid-readyz"),
		"the delivery is on disk before its receipt is written")

	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		require.NoError(t, err)
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 10*time.Millisecond, "/readyz says ready while receipts cannot be audited")
}
