package webhook

import (
	"context"

	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"

	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// memSink is an in-memory audit.Sink.
type memSink struct {
	mu   sync.Mutex
	recs []audit.Record
	err  error
}

func (m *memSink) Write(_ context.Context, r audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.recs = append(m.recs, r)
	return nil
}

// WriteBatchDeferred makes memSink a ReceiptLog.
func (m *memSink) WriteBatchDeferred(ctx context.Context, recs []audit.Record) error {
	for _, r := range recs {
		if err := m.Write(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSink) byStatus(status string) []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Record
	for _, r := range m.recs {
		if r.Status == status {
			out = append(out, r)
		}
	}
	return out
}

type bundle struct {
	db   *queue.DB
	in   *queue.Intake
	sink *memSink
	h    *Handler
	url  string
}

// settle waits until every delivery answered so far has its row, job and
// receipt: they are committed just after the answer.
func (b *bundle) settle(t *testing.T) {
	t.Helper()
	require.Eventually(t, b.in.Settled, 10*time.Second, time.Millisecond)
}

// setup runs the receiver on httptest with a real queue in a temp dir.
func setup(t *testing.T, mutate func(*Options)) *bundle {
	t.Helper()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	client, err := db.NewRiver(queue.RiverConfig{})
	require.NoError(t, err)
	sink := &memSink{}
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(client, 5), Receipts: ReceiptAuditor(sink)})
	require.NoError(t, err)
	o := Options{
		Store: in, Audit: sink, Ready: db.Ping,
		Secrets: Secrets{GitHub: secrets("gh-secret"), Stripe: secrets("whsec_test"), Slack: secrets("slack-secret")},
	}
	if mutate != nil {
		mutate(&o)
	}
	h := NewHandler(o)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		in.Close()
		require.NoError(t, db.Close())
	})
	return &bundle{db: db, in: in, sink: sink, h: h, url: srv.URL}
}

func githubRequest(t *testing.T, url, guid string, body []byte, secret string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/github", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(GitHubEventHeader, "issues")
	req.Header.Set(GitHubDeliveryHeader, guid)
	req.Header.Set(GitHubHookIDHeader, "42")
	req.Header.Set(GitHubSignatureHeader, githubSig(body, secret))
	return req
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReceiverStoresOnceAndAnswersDuplicatesWith2xx(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{"action":"opened","repository":{"full_name":"acme/app"}}`)

	code, _ := do(t, githubRequest(t, b.url, "guid-1", body, "gh-secret"))
	require.Equal(t, http.StatusAccepted, code)
	b.settle(t)
	code, out := do(t, githubRequest(t, b.url, "guid-1", body, "gh-secret"))
	require.Equal(t, http.StatusAccepted, code, "a redelivery is answered as stored: %s", out)
	b.settle(t)

	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, "github:42:guid-1", ds[0].Key)
	jobs, err := b.db.JobCounts(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, jobs["available"], "the duplicate enqueued nothing")

	recs := b.sink.byStatus(audit.StatusReceived)
	require.Len(t, recs, 2)
	assert.Equal(t, "webhook.issues", recs[0].Action)
	assert.Equal(t, "github:42:guid-1", recs[0].IdempotencyKey)
	assert.Equal(t, false, recs[0].Details["duplicate"])
	assert.Equal(t, true, recs[1].Details["duplicate"])
}

func TestReceiverSameGUIDThroughAnotherHookIsAnotherDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{}`)
	code, _ := do(t, githubRequest(t, b.url, "guid-x", body, "gh-secret"))
	require.Equal(t, http.StatusAccepted, code)
	req := githubRequest(t, b.url, "guid-x", body, "gh-secret")
	req.Header.Set(GitHubHookIDHeader, "43")
	code, _ = do(t, req)
	require.Equal(t, http.StatusAccepted, code)
	b.settle(t)
	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	assert.Len(t, ds, 2, "one delivery per hook")
	for _, r := range b.sink.byStatus(audit.StatusReceived) {
		assert.Equal(t, false, r.Details["duplicate"], r.IdempotencyKey)
	}
}

func TestReceiverRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) {
		o.MaxBody = func(string) int64 { return 64 }
	})
	big := []byte(`{"pad":"` + strings.Repeat("x", 100) + `"}`)
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		reason string // in the rejected audit record, "" for none
	}{
		{"a body over the limit by Content-Length is 413", func() *http.Request {
			return githubRequest(t, b.url, "g-big", big, "gh-secret")
		}, http.StatusRequestEntityTooLarge, "body over the limit"},
		{"a chunked body over the limit is 413", func() *http.Request {
			req := githubRequest(t, b.url, "g-chunked", big, "gh-secret")
			req.ContentLength = -1
			req.Body = io.NopCloser(strings.NewReader(string(big)))
			return req
		}, http.StatusRequestEntityTooLarge, "body over the limit"},
		{"a wrong signature is 401", func() *http.Request {
			return githubRequest(t, b.url, "g-bad", []byte(`{}`), "not-the-secret")
		}, http.StatusUnauthorized, ErrBadSignature.Error()},
		{"an unknown path is 404", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, b.url+"/webhooks/gitlab", strings.NewReader("{}"))
			return req
		}, http.StatusNotFound, ""},
		{"a path not in its clean form is 404, not a redirect to the clean one", func() *http.Request {
			req := githubRequest(t, b.url, "g-unclean", []byte(`{}`), "gh-secret")
			req.URL.Path = "/webhooks//github"
			return req
		}, http.StatusNotFound, ""},
		{"a path with a dot segment is 404", func() *http.Request {
			req := githubRequest(t, b.url, "g-dot", []byte(`{}`), "gh-secret")
			req.URL.Path = "/webhooks/./github"
			return req
		}, http.StatusNotFound, ""},
		{"a GET on a webhook path is 405", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, b.url+"/webhooks/github", nil)
			return req
		}, http.StatusMethodNotAllowed, ""},
		{"a verified delivery without a delivery id is 400", func() *http.Request {
			req := githubRequest(t, b.url, "", []byte(`{}`), "gh-secret")
			return req
		}, http.StatusBadRequest, "malformed"},
	}
	for _, tt := range tests {
		code, _ := do(t, tt.req())
		assert.Equal(t, tt.status, code, tt.name)
		if tt.reason != "" {
			found := false
			for _, r := range b.sink.byStatus(audit.StatusRejected) {
				found = found || strings.Contains(r.Error, tt.reason)
			}
			assert.True(t, found, "%s: no rejected record saying %q", tt.name, tt.reason)
		}
	}
	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	assert.Empty(t, ds, "nothing refused was stored")
}

func TestReceiverWithoutSecretAnswers503(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.Secrets.GitHub = nil })
	code, _ := do(t, githubRequest(t, b.url, "g", []byte(`{}`), "gh-secret"))
	assert.Equal(t, http.StatusServiceUnavailable, code)
}

// A receipt is audited just after the answer, with the delivery's row. One
// that cannot be (the audit log failing) was refused with 503; the
// delivery is on disk by then, so it is kept and queued, and the intake
// reports the failure (Healthy, which the receiver's /readyz asks), so a
// load balancer stops sending until receipts are audited again.
func TestAReceiptThatCannotBeAuditedMakesTheIntakeUnhealthy(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sink.mu.Lock()
	b.sink.err = fmt.Errorf("disk full")
	b.sink.mu.Unlock()
	code, _ := do(t, githubRequest(t, b.url, "g-audit", []byte(`{}`), "gh-secret"))
	assert.Equal(t, http.StatusAccepted, code)
	b.settle(t)
	assert.ErrorContains(t, b.in.Healthy(), "disk full")
	_, err := b.db.Find(context.Background(), "github:42:g-audit")
	require.NoError(t, err, "the delivery is stored all the same")

	b.sink.mu.Lock()
	b.sink.err = nil
	b.sink.mu.Unlock()
	code, _ = do(t, githubRequest(t, b.url, "g-audit-2", []byte(`{}`), "gh-secret"))
	assert.Equal(t, http.StatusAccepted, code)
	b.settle(t)
	assert.NoError(t, b.in.Healthy(), "an audited receipt clears it")
}

func TestReceiverStripeEventIsKeyedByEventID(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{"id":"evt_123","type":"payment_intent.succeeded","data":{"object":{"id":"pi_9"}}}`)
	send := func() int {
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_test"})
		req, _ := http.NewRequest(http.MethodPost, b.url+"/webhooks/stripe", strings.NewReader(string(body)))
		req.Header.Set(StripeSignatureHeader, sp.Header)
		code, _ := do(t, req)
		return code
	}
	require.Equal(t, http.StatusAccepted, send())
	require.Equal(t, http.StatusAccepted, send(), "Stripe's retry of one event")
	b.settle(t)
	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	require.Len(t, ds, 1, "Stripe's retry of one event is a duplicate")
	d, err := b.db.Find(context.Background(), "stripe:evt_123")
	require.NoError(t, err)
	assert.Equal(t, "payment_intent.succeeded", d.EventType)
	assert.Equal(t, "pi_9", d.Target)
}

func slackRequest(t *testing.T, url string, body []byte) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/slack", strings.NewReader(string(body)))
	req.Header = slackHeader(body, "slack-secret", time.Now())
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestReceiverSlack(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	code, out := do(t, slackRequest(t, b.url, []byte(`{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`)))
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`, out)

	ev := []byte(`{"type":"event_callback","event_id":"Ev08","team_id":"T1","event":{"type":"message","channel":"C2"}}`)
	code, _ = do(t, slackRequest(t, b.url, ev))
	require.Equal(t, http.StatusAccepted, code)
	retry := slackRequest(t, b.url, ev)
	retry.Header.Set("X-Slack-Retry-Num", "1")
	code, _ = do(t, retry)
	require.Equal(t, http.StatusAccepted, code)
	b.settle(t)

	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the challenge is answered, not stored")
	assert.Equal(t, "slack:Ev08", ds[0].Key)
	assert.Equal(t, "T1/C2", ds[0].Target)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	get := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, b.url+path, nil)
		code, _ := do(t, req)
		return code
	}
	assert.Equal(t, http.StatusOK, get("/healthz"))
	assert.Equal(t, http.StatusOK, get("/readyz"))
	b.h.Drain()
	assert.Equal(t, http.StatusServiceUnavailable, get("/readyz"), "a draining receiver is not ready")
	assert.Equal(t, http.StatusOK, get("/healthz"))
}

// TestSlowClientIsCutOffWhileOthersAreServed: a client that trickles its
// headers is disconnected at ReadHeaderTimeout; a normal delivery sent
// meanwhile is answered at once.
func TestSlowClientIsCutOffWhileOthersAreServed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv := NewServer("127.0.0.1:0", b.h, ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 2 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	slow, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer slow.Close()
	_, err = io.WriteString(slow, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	start := time.Now()
	cut := make(chan time.Duration, 1)
	go func() {
		for i := 0; ; i++ { // one header byte every 100ms: never finishes
			if _, err := io.WriteString(slow, "X"); err != nil {
				cut <- time.Since(start)
				return
			}
			_ = slow.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := slow.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
				cut <- time.Since(start)
				return
			}
		}
	}()

	body := []byte(`{}`)
	req := githubRequest(t, "http://"+ln.Addr().String(), "g-fast", body, "gh-secret")
	code, _ := do(t, req)
	assert.Equal(t, http.StatusAccepted, code, "a normal delivery is served while the slow one trickles")

	select {
	case d := <-cut:
		assert.Less(t, d, 2*time.Second, "the slow client was cut off at the header timeout")
	case <-time.After(5 * time.Second):
		t.Fatal("the slow client was never disconnected")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
