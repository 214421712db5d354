package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	t.Setenv("GITHUB_WEBHOOK_SECRET", "review-secret")
	t.Setenv("LOG_LEVEL", "error")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runWebhooks(ctx, []string{"--no-worker"}, io.Discard, &stderr) }()
	t.Cleanup(func() { cancel(); <-done })

	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 10*time.Second, 20*time.Millisecond, "receiver did not start: %s", stderr.String())

	body := []byte(`{"action":"opened"}`)
	mac := hmac.New(sha256.New, []byte("review-secret"))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", "guid-readyz")
	req.Header.Set("X-GitHub-Hook-ID", "1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the delivery is refused: its receipt cannot be audited")

	resp, err = http.Get(base + "/readyz")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode,
		"/readyz says %s while every delivery is answered 503", b)
}
