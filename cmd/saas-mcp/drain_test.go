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
//
// The delay is long enough for /readyz and one delivery on a loaded machine
// under -race (they take milliseconds when it is not); the receiver sleeps
// out the whole delay, so the test takes that long whatever the load.
func TestWebhookDrainDelayKeepsTakingDeliveriesWhileReadyzSaysDraining(t *testing.T) {
	const drainDelay = 5 * time.Second
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	t.Setenv("GITHUB_WEBHOOK_SECRET", "drain-secret")
	t.Setenv("WEBHOOK_DRAIN_DELAY", drainDelay.String())
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
	}, drainDelay, 10*time.Millisecond, "/readyz says draining")
	assert.Equal(t, http.StatusAccepted, sendGitHub(t, base, "drain-secret", "drain-1"),
		"a delivery during the delay is taken")
	assert.Equal(t, 0, <-stopped)
}
