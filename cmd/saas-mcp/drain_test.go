package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strings"
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runWebhooks(ctx, []string{"--no-worker"}, io.Discard, &stderr) }()
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "receiver did not start: %s", stderr.String())

	cancel() // SIGTERM
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, time.Second, 10*time.Millisecond, "/readyz says draining")

	body := []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/app"}}`)
	mac := hmac.New(sha256.New, []byte("drain-secret"))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", "drain-1")
	req.Header.Set("X-GitHub-Hook-ID", "1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the listener is still open during the delay")
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, "a delivery during the delay is taken")

	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("the receiver did not stop after its drain delay")
	}
}
