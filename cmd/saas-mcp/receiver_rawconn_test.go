package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"
)

func reviewHMAC(secret string, parts ...string) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func reviewGH(secret, guid, hook, body, proto string) string {
	return "POST /webhooks/github " + proto + "\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: issues\r\n" +
		"X-GitHub-Delivery: " + guid + "\r\nX-GitHub-Hook-ID: " + hook + "\r\nX-Hub-Signature-256: sha256=" + reviewHMAC(secret, body) +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestRealReceiverOverRawConnections runs the real command with
// rotated secrets (comma-separated, from _FILE with a newline) and talks
// to it as hostile and ordinary clients do.
func TestRealReceiverOverRawConnections(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", filepath.Join(dir, "data"))
	logPath := filepath.Join(dir, "audit.ndjson")
	t.Setenv("AUDIT_LOG_PATH", logPath)
	addr := freeAddr(t)
	t.Setenv("WEBHOOK_ADDR", addr)
	secFile := filepath.Join(dir, "gh")
	require.NoError(t, os.WriteFile(secFile, []byte("old-secret-0123456789, new-secret-0123456789\n"), 0o600))
	t.Setenv("GITHUB_WEBHOOK_SECRET_FILE", secFile)
	t.Setenv("STRIPE_WEBHOOK_SECRET", "whsec_oldoldoldoldold,whsec_newnewnewnewnew")
	t.Setenv("SLACK_SIGNING_SECRET", "slack-secret-0123456789")
	t.Setenv("LOG_LEVEL", "error")
	base, _ := runReceiver(t, addr)

	roundTrip := func(raw string, n int) []int {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, raw)
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		var codes []int
		for i := 0; i < n; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				codes = append(codes, -1)
				break
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		return codes
	}
	// pipelined: old secret, new secret, duplicate of the first, another hook
	codes := roundTrip(reviewGH("old-secret-0123456789", "g1", "7", `{"a":1}`, "HTTP/1.1")+
		reviewGH("new-secret-0123456789", "g2", "7", `{"a":2}`, "HTTP/1.1")+
		reviewGH("new-secret-0123456789", "g1", "7", `{"a":1}`, "HTTP/1.1")+
		reviewGH("new-secret-0123456789", "g1", "8", `{"a":1}`, "HTTP/1.1"), 4)
	assert.Equal(t, []int{202, 202, 202, 202}, codes, "pipelined")
	assert.Equal(t, []int{202}, roundTrip(reviewGH("old-secret-0123456789", "g3", "7", `{}`, "HTTP/1.0"), 1), "HTTP/1.0")
	// Expect: 100-continue with an oversized length
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, _ = fmt.Fprintf(c, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nStripe-Signature: t=%d,v1=%064d\r\nContent-Length: %d\r\n\r\n",
		time.Now().Unix(), 0, 1<<20+1)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	assert.Contains(t, line, " 413 ", "oversized with Expect")

	// Stripe: one event id, signed with each of the two secrets (two endpoints)
	sbody := `{"id":"evt_review1","type":"customer.created","livemode":false,"data":{"object":{"id":"cus_1"}}}`
	for _, sec := range []string{"whsec_oldoldoldoldold", "whsec_newnewnewnewnew"} {
		now := time.Now()
		sig := hex.EncodeToString(webhook.ComputeSignature(now, []byte(sbody), sec))
		raw := fmt.Sprintf("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nStripe-Signature: t=%d, v1=%s ,v0=abc\r\nContent-Length: %d\r\n\r\n%s",
			now.Unix(), strings.ToUpper(sig), len(sbody), sbody)
		assert.Equal(t, []int{202}, roundTrip(raw, 1), "stripe with %s", sec[:10])
	}
	// Slack url_verification and a retry
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	slackRaw := func(body string, extra string) string {
		return "POST /webhooks/slack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slack-Request-Timestamp: " + ts +
			"\r\nX-Slack-Signature: v0=" + reviewHMAC("slack-secret-0123456789", "v0:"+ts+":", body) + "\r\n" + extra +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	ev := `{"type":"event_callback","event_id":"EvRev1","team_id":"T1","event":{"type":"message","channel":"C1"}}`
	assert.Equal(t, []int{200, 202, 202}, roundTrip(slackRaw(`{"type":"url_verification","challenge":"xyz"}`, "")+
		slackRaw(ev, "")+slackRaw(ev, "X-Slack-Retry-Num: 1\r\nX-Slack-Retry-Reason: http_timeout\r\n"), 3))

	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	// audit: received records and duplicates
	type rec struct {
		Action, Status, IdempotencyKey string
		Details                        map[string]any
	}
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), `"status":"received"`) >= 10
	}, 10*time.Second, 50*time.Millisecond)
	b, _ := os.ReadFile(logPath)
	dup := map[string][]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r rec
		if json.Unmarshal([]byte(l), &r) != nil || r.Status != "received" || r.IdempotencyKey == "" {
			continue
		}
		d, _ := r.Details["duplicate"].(bool)
		dup[r.IdempotencyKey] = append(dup[r.IdempotencyKey], d)
	}
	t.Logf("receipts: %v", dup)
	assert.Equal(t, []bool{false, true}, dup["github:7:g1"])
	assert.Equal(t, []bool{false}, dup["github:8:g1"])
	assert.Equal(t, []bool{false, true}, dup["stripe:evt_review1"])
	assert.Equal(t, []bool{false, true}, dup["slack:EvRev1"])
}
