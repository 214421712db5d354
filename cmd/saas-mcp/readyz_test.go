package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadyzIsNotReadyWhileEveryDeliveryIsRefused: the receiver refuses
// every delivery whose receipt cannot be audited (503), so /readyz must not
// answer "ready" while the audit log cannot be written (here a full disk:
// /dev/full), or a load balancer keeps sending deliveries to an instance
// that refuses them all.
func TestReadyzIsNotReadyWhileEveryDeliveryIsRefused(t *testing.T) {
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
	require.Equal(t, http.StatusServiceUnavailable, sendGitHub(t, base, "review-secret", "guid-readyz"),
		"the delivery is refused: its receipt cannot be audited")

	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode,
		"/readyz says %s while every delivery is answered 503", b)
}
