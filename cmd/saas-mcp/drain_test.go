package main

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With WEBHOOK_DRAIN_DELAY, a SIGTERM first makes /readyz answer draining
// while deliveries are still taken (a load balancer notices and stops
// sending), and only then closes the listener. Not parallel: it sets the
// process environment.
func TestWebhookDrainDelayKeepsTakingDeliveriesWhileReadyzSaysDraining(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	t.Setenv("GITHUB_WEBHOOK_SECRET", "drain-secret")
	t.Setenv("WEBHOOK_DRAIN_DELAY", "2s")
	t.Setenv("LOG_LEVEL", "error")

	base, stop := runReceiver(t, addr)
	stopped := make(chan int, 1)
	go func() { stopped <- stop() }() // SIGTERM
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, time.Second, 10*time.Millisecond, "/readyz says draining")
	assert.Equal(t, http.StatusAccepted, sendGitHub(t, base, "drain-secret", "drain-1"),
		"a delivery during the delay is taken")
	assert.Equal(t, 0, <-stopped)
}
