package webhook

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// reviewServe runs b.h behind NewServer with the given options on loopback.
func reviewServe(t *testing.T, b *bundle, o ServerOptions) string {
	t.Helper()
	srv := NewServer("127.0.0.1:0", b.h, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func reviewGitHubRaw(guid, hook string, body []byte, extra string) string {
	return "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"X-GitHub-Event: issues\r\nX-GitHub-Delivery: " + guid + "\r\nX-GitHub-Hook-ID: " + hook + "\r\n" +
		"X-Hub-Signature-256: " + githubSig(body, "gh-secret") + "\r\n" + extra +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
}

func readResp(t *testing.T, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp
}

func TestExpectContinueOversizedIsNotRead(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	addr := reviewServe(t, b, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nX-GitHub-Event: issues\r\n"+
		"X-GitHub-Delivery: g\r\nX-Hub-Signature-256: sha256=%064d\r\nContent-Length: %d\r\n\r\n", 0, 25<<20+1)
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, line, "413", "first line must be the 413, never 100 Continue")
}

func TestPipelinedDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	addr := reviewServe(t, b, ServerOptions{})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	b1, b2 := []byte(`{"n":1}`), []byte(`{"n":2}`)
	bad := "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: gbad\r\n" +
		"X-Hub-Signature-256: " + githubSig(b1, "wrong") + "\r\nContent-Length: 7\r\n\r\n" + string(b1)
	_, err = io.WriteString(c, reviewGitHubRaw("p1", "1", b1, "")+bad+reviewGitHubRaw("p2", "1", b2, "")+reviewGitHubRaw("p1", "1", b1, ""))
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	want := []int{202, 401, 202, 202}
	for i, w := range want {
		assert.Equal(t, w, readResp(t, br).StatusCode, "pipelined request %d", i)
	}
	b.settle(t)
	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	assert.Len(t, ds, 2)
}

func TestChunked(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxBody = func(string) int64 { return 64 } })
	addr := reviewServe(t, b, ServerOptions{ReadTimeout: 2 * time.Second})
	send := func(raw string, halfClose bool) int {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, raw)
		require.NoError(t, err)
		if halfClose {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
		return readResp(t, bufio.NewReader(c)).StatusCode
	}
	head := func(guid string, body []byte, te string) string {
		return "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: " + guid + "\r\nX-GitHub-Hook-ID: 1\r\n" +
			"X-Hub-Signature-256: " + githubSig(body, "gh-secret") + "\r\n" + te + "\r\n"
	}
	body := []byte(`{"chunked":true}`)
	chunked := fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 5, body[:5], len(body)-5, body[5:])
	assert.Equal(t, 202, send(head("ch1", body, "Transfer-Encoding: chunked\r\n")+chunked, false), "chunked")
	// chunked with a (conflicting) Content-Length too
	assert.NotEqual(t, 500, send(head("ch2", body, "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")+chunked, false))
	big := []byte(strings.Repeat("a", 65))
	bigChunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big)
	assert.Equal(t, 413, send(head("ch3", big, "Transfer-Encoding: chunked\r\n")+bigChunked, false), "chunked over the limit")
	// Content-Length larger than the body, sender half-closes
	assert.Equal(t, 400, send(head("cl1", body, "Content-Length: 40\r\n")+string(body), true), "cut short")
	// Content-Length larger than the body, sender waits: ReadTimeout
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, _ = io.WriteString(c, head("cl2", body, "Content-Length: 40\r\n")+string(body))
	_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
	_, _ = io.ReadAll(c)
	c.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	// Content-Length smaller than the body: the signature covers the prefix only
	assert.Equal(t, 401, send(head("cl3", body, "Content-Length: 5\r\n")+string(body), false))
	// HTTP/1.0
	raw10 := strings.Replace(head("h10", body, "Content-Length: "+strconv.Itoa(len(body))+"\r\n"), "HTTP/1.1", "HTTP/1.0", 1) + string(body)
	assert.Equal(t, 202, send(raw10, false), "HTTP/1.0")
}

func TestSlowBodyUnderTimeoutIsServed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	addr := reviewServe(t, b, ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 3 * time.Second})
	body := []byte(`{"slow":"but within the timeout"}`)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	raw := reviewGitHubRaw("slow1", "1", body, "")
	cut := len(raw) - len(body)
	_, err = io.WriteString(c, raw[:cut])
	require.NoError(t, err)
	for i := cut; i < len(raw); i++ { // ~1.7 s, one byte every 50 ms
		time.Sleep(50 * time.Millisecond)
		_, err = c.Write([]byte{raw[i]})
		require.NoError(t, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	assert.Equal(t, 202, readResp(t, bufio.NewReader(c)).StatusCode)

	// a body trickled forever is cut off at ReadTimeout
	s, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer s.Close()
	raw = reviewGitHubRaw("slow2", "1", []byte(strings.Repeat("x", 500)), "")
	_, _ = io.WriteString(s, raw[:len(raw)-500])
	start := time.Now()
	for i := 0; i < 200; i++ {
		time.Sleep(50 * time.Millisecond)
		if _, err := s.Write([]byte("x")); err != nil {
			break
		}
	}
	assert.Less(t, time.Since(start), 6*time.Second, "the trickling sender was cut off")
}

func TestSignatureForms(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	b := setup(t, func(o *Options) { o.Now = func() time.Time { return now } })
	post := func(path string, body []byte, h http.Header) int {
		req, err := http.NewRequest(http.MethodPost, b.url+path, strings.NewReader(string(body)))
		require.NoError(t, err)
		for k, vs := range h {
			req.Header[k] = vs
		}
		code, _ := do(t, req)
		return code
	}
	// GitHub upper-case hex
	body := []byte(`{}`)
	h := http.Header{}
	h.Set(GitHubEventHeader, "issues")
	h.Set(GitHubDeliveryHeader, "up1")
	h.Set(GitHubHookIDHeader, "1")
	h.Set(GitHubSignatureHeader, "sha256="+strings.ToUpper(strings.TrimPrefix(githubSig(body, "gh-secret"), "sha256=")))
	assert.Equal(t, 202, post("/webhooks/github", body, h), "github upper-case hex")
	// duplicate header: a good value and a junk one
	h2 := h.Clone()
	h2.Set(GitHubDeliveryHeader, "dup1")
	h2.Add(GitHubSignatureHeader, "sha256=junk")
	assert.Equal(t, 202, post("/webhooks/github", body, h2), "first of two signature headers")
	// SHA-1 only
	h3 := h.Clone()
	h3.Del(GitHubSignatureHeader)
	h3.Set(GitHubSHA1SignatureHeader, "sha1=0000000000000000000000000000000000000000")
	assert.Equal(t, 401, post("/webhooks/github", body, h3))

	// Stripe edges
	stripe := func(id string, ts time.Time, upper bool) http.Header {
		b := []byte(`{"id":"` + id + `","type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`)
		sig := hex.EncodeToString(webhook.ComputeSignature(ts, b, "whsec_test"))
		if upper {
			sig = strings.ToUpper(sig)
		}
		h := http.Header{}
		h.Set(StripeSignatureHeader, "t="+strconv.FormatInt(ts.Unix(), 10)+",v1="+sig)
		return h
	}
	sb := func(id string) []byte {
		return []byte(`{"id":"` + id + `","type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`)
	}
	assert.Equal(t, 202, post("/webhooks/stripe", sb("evt_edge1"), stripe("evt_edge1", now.Add(-300*time.Second), false)), "t exactly 300 s old")
	assert.Equal(t, 401, post("/webhooks/stripe", sb("evt_edge2"), stripe("evt_edge2", now.Add(-301*time.Second), false)), "301 s old")
	assert.Equal(t, 202, post("/webhooks/stripe", sb("evt_edge3"), stripe("evt_edge3", now.Add(300*time.Second), false)), "300 s future")
	assert.Equal(t, 401, post("/webhooks/stripe", sb("evt_edge4"), stripe("evt_edge4", now.Add(301*time.Second), false)), "301 s future")
	assert.Equal(t, 202, post("/webhooks/stripe", sb("evt_up"), stripe("evt_up", now, true)), "stripe upper-case hex")
	// Two Stripe-Signature headers: the real one second
	two := stripe("evt_two", now, false)
	two[StripeSignatureHeader] = append([]string{"t=1,v1=" + strings.Repeat("0", 64)}, two[StripeSignatureHeader]...)
	t.Logf("two Stripe-Signature headers, real one second: %d", post("/webhooks/stripe", sb("evt_two"), two))

	// Slack timestamp forms
	sl := []byte(`{"type":"event_callback","event_id":"EvTS1","team_id":"T1","event":{"type":"message","channel":"C1"}}`)
	slackAt := func(ts string) http.Header {
		h := http.Header{}
		h.Set(SlackTimestampHeader, ts)
		h.Set(SlackSignatureHeader, "v0="+strings.ToUpper(hex.EncodeToString(SlackSignature(sl, ts, "slack-secret"))))
		h.Set("Content-Type", "application/json")
		return h
	}
	n := strconv.FormatInt(now.Unix(), 10)
	assert.Equal(t, 202, post("/webhooks/slack", sl, slackAt(n)), "slack upper-case hex")
	assert.Equal(t, 401, post("/webhooks/slack", sl, slackAt("+"+n)), "plus sign")
	assert.Equal(t, 401, post("/webhooks/slack", sl, slackAt("-"+n)), "minus sign")
	t.Logf("leading zero: %d", post("/webhooks/slack", sl, slackAt("0"+n)))
	assert.Equal(t, 202, post("/webhooks/slack", sl, slackAt(strconv.FormatInt(now.Unix()-300, 10))), "exactly 5 minutes")
	assert.Equal(t, 401, post("/webhooks/slack", sl, slackAt(strconv.FormatInt(now.Unix()-301, 10))), "5 min 1 s")
	// url_verification with a bad signature: no challenge answered
	uv := []byte(`{"type":"url_verification","challenge":"abc"}`)
	bad := http.Header{}
	bad.Set(SlackTimestampHeader, n)
	bad.Set(SlackSignatureHeader, "v0="+hex.EncodeToString(SlackSignature(uv, n, "wrong")))
	assert.Equal(t, 401, post("/webhooks/slack", uv, bad))
	// retry
	r := slackAt(n)
	r.Set("X-Slack-Retry-Num", "1")
	r.Set("X-Slack-Retry-Reason", "http_timeout")
	assert.Equal(t, 202, post("/webhooks/slack", sl, r))
	b.settle(t)
	d, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	keys := []string{}
	for _, x := range d {
		keys = append(keys, x.Key)
	}
	t.Logf("keys: %v", keys)
}

func TestHostileIDsAndTargets(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	post := func(path string, req *http.Request) int { code, _ := do(t, req); return code }
	_ = post
	for _, body := range []string{
		`[]`, `"x"`, `null`, `{"id":"evt_` + strings.Repeat("a", 300) + `","type":"charge.succeeded"}`,
		`{"id":"evt_\u0000x","type":"charge.succeeded"}`, `{"id":"evt_a\nb","type":"charge.succeeded"}`,
		"{\"id\":\"evt_\xff\",\"type\":\"charge.succeeded\"}",
	} {
		code, _ := do(t, stripeRequest(t, b.url, []byte(body)))
		assert.Equal(t, 400, code, "body %q", body)
	}
	// target with control bytes: what reaches the audit log?
	body := []byte(`{"id":"evt_ctl","type":"charge.succeeded","data":{"object":{"id":"ch_\u0000\n\u001b[31mred\r\n{\"status\":\"processed\"}"}}}`)
	code, _ := do(t, stripeRequest(t, b.url, body))
	assert.Equal(t, 202, code)
	slackBody := []byte(`{"type":"event_callback","event_id":"EvCtl","team_id":"T\u0000\n","event":{"type":"message","channel":"C` + "\xff" + `\u001b"}}`)
	code, _ = do(t, slackRequest(t, b.url, slackBody))
	assert.Equal(t, 202, code)
	b.settle(t)
	for _, r := range b.sink.byStatus(audit.StatusReceived) {
		t.Logf("received audit target %q key %q", r.Target, r.IdempotencyKey)
		// raw control bytes reach Record.Target; audit's encoder escapes them
		// (\u0000, \n, \u001b, \ufffd), so the NDJSON line stays one line.
	}
}

// A Stripe delivery signed 299 s before its headers arrived, whose body
// finishes after the 300 s window, is judged at the headers' time, as its
// received_at is (found in review: it was refused 401 once the body was in).
func TestStripeTimestampIsJudgedWhenHeadersArrive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	addr := reviewServe(t, b, ServerOptions{})
	body := []byte(`{"id":"evt_slowedge","type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`)
	ts := time.Now().Add(-299 * time.Second)
	sig := hex.EncodeToString(webhook.ComputeSignature(ts, body, "whsec_test"))
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=%d,v1=%s\r\nContent-Length: %d\r\n\r\n%s",
		ts.Unix(), sig, len(body), body[:10])
	require.NoError(t, err)
	time.Sleep(2500 * time.Millisecond)
	_, err = c.Write(body[10:])
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	assert.Equal(t, 202, readResp(t, bufio.NewReader(c)).StatusCode, "timestamp was within tolerance when the request arrived")
}

// TestNoSmugglingThroughAnUnreadBody: a body the receiver refuses
// (413 over the limit, 401 before reading) must not be parsed as the next
// request on the connection.
func TestNoSmugglingThroughAnUnreadBody(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxBody = func(string) int64 { return 600 } })
	addr := reviewServe(t, b, ServerOptions{})
	inner := reviewGitHubRaw("smuggled", "1", []byte(`{}`), "")
	for _, tc := range []struct {
		name string
		head string
	}{
		{"413", "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=" + strings.Repeat("0", 64) + "\r\nContent-Length: %d\r\n\r\n"},
		{"401", "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"},
	} {
		body := inner + strings.Repeat(" ", 700-len(inner))
		if tc.name == "401" {
			body = inner
		}
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = fmt.Fprintf(c, tc.head+"%s", len(body), body)
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		all, _ := io.ReadAll(c)
		c.Close()
		t.Logf("%s: %q", tc.name, all)
		assert.Equal(t, 1, strings.Count(string(all), "HTTP/1.1 "), "%s: one answer only", tc.name)
	}
	b.settle(t)
	_, err := b.db.Find(context.Background(), "github:1:smuggled")
	assert.Error(t, err, "the smuggled delivery must not be stored")
}

// TestSlackTimestampIsJudgedWhenHeadersArrive: as for Stripe.
func TestSlackTimestampIsJudgedWhenHeadersArrive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	addr := reviewServe(t, b, ServerOptions{})
	body := []byte(`{"type":"event_callback","event_id":"EvSlowEdge","team_id":"T1","event":{"type":"message","channel":"C1"}}`)
	ts := strconv.FormatInt(time.Now().Add(-299*time.Second).Unix(), 10)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /webhooks/slack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slack-Request-Timestamp: %s\r\nX-Slack-Signature: v0=%s\r\nContent-Length: %d\r\n\r\n%s",
		ts, hex.EncodeToString(SlackSignature(body, ts, "slack-secret")), len(body), body[:10])
	require.NoError(t, err)
	time.Sleep(2500 * time.Millisecond)
	_, err = c.Write(body[10:])
	require.NoError(t, err)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	code := readResp(t, bufio.NewReader(c)).StatusCode
	for _, r := range b.sink.byStatus(audit.StatusRejected) {
		t.Logf("rejected: %s", r.Error)
	}
	assert.Equal(t, 202, code, "timestamp was within tolerance when the request arrived")
}

func TestGitHubHostileIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	addr := reviewServe(t, b, ServerOptions{})
	for _, tc := range []struct{ guid, hook string }{
		{"g\xff\xfe", "1"}, {strings.Repeat("g", 201), "1"}, {"g1", "1:2"}, {"g\x01", "1"}, {"", "1"}, {"g1", "1 2"},
	} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, _ = io.WriteString(c, reviewGitHubRaw(tc.guid, tc.hook, []byte(`{}`), ""))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		code := readResp(t, bufio.NewReader(c)).StatusCode
		c.Close()
		assert.Equal(t, 400, code, "guid %q hook %q", tc.guid, tc.hook)
	}
	for _, r := range b.sink.byStatus(audit.StatusRejected) {
		t.Logf("rejected %s target %q key %q err %q", r.Action, r.Target, r.IdempotencyKey, r.Error)
	}
}
