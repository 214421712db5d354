package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runReceiver runs `saas-mcp webhooks --no-worker` in this process on the
// environment the test set (WEBHOOK_ADDR included) until it answers
// /healthz. stop cancels it as SIGTERM would and returns its exit code.
func runReceiver(t *testing.T, addr string) (base string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runWebhooks(ctx, []string{"--no-worker"}, io.Discard, &stderr) }()
	stop = sync.OnceValue(func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second): // beyond any WEBHOOK_DRAIN_DELAY a test sets
			t.Error("the receiver did not stop")
			return -1
		}
	})
	t.Cleanup(func() { stop() })
	base = "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 10*time.Second, 20*time.Millisecond, "the receiver did not start")
	return base, stop
}

// sendGitHub posts a GitHub issues delivery signed with secret and returns
// the answer's status.
func sendGitHub(t *testing.T, base, secret, delivery string) int {
	t.Helper()
	body := []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/app"}}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-GitHub-Hook-ID", "1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}
