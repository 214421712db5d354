package webhook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// TestASlackEventWhoseChannelIsAnObjectIsAccepted: Slack sends
// event.channel as an object for channel_created, channel_rename,
// group_rename and im_created. Such a verified event with an event_id must
// be stored and answered 202, not refused 400 as malformed and lost after
// Slack's retries (found in review).
func TestASlackEventWhoseChannelIsAnObjectIsAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, channel, target string }{
		{"an object with an id", `{"id":"C024BE91L","name":"fun","created":1360782804,"creator":"U024BE7LH"}`, "T1/C024BE91L"},
		{"a string", `"C0GENERAL"`, "T1/C0GENERAL"},
		{"something else", `17`, "T1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			ev := []byte(fmt.Sprintf(`{"token":"x","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev0CHAN%d","event_time":1360782804,`+
				`"event":{"type":"channel_created","channel":%s}}`, i, tt.channel))
			code, out := do(t, slackRequest(t, b.url, ev))
			require.Equal(t, http.StatusAccepted, code, "a verified event was refused: %s", out)
			b.settle(t)
			recs := b.sink.byStatus(audit.StatusReceived)
			require.Len(t, recs, 1)
			assert.Equal(t, tt.target, recs[0].Target)
		})
	}
}

// TestABodyThatNeverCompletesIsRefusedAndAudited: a slow-body client cut
// off by ReadTimeout is refused with 400, and the refusal is in the audit
// log with its reason, as every refusal is (found in review).
func TestABodyThatNeverCompletesIsRefusedAndAudited(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	srv := NewServer("127.0.0.1:0", b.h, ServerOptions{ReadHeaderTimeout: time.Second, ReadTimeout: 400 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	// Declares 1000 bytes, sends 10, then stalls.
	_, err = fmt.Fprintf(conn, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: issues\r\nX-GitHub-Delivery: guid-slow\r\nX-GitHub-Hook-ID: 42\r\n"+
		"X-Hub-Signature-256: sha256=%s\r\nContent-Length: 1000\r\n\r\n{\"pad\":\"x", strings.Repeat("0", 64))
	require.NoError(t, err)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "the slow body is cut off and refused")

	require.Eventually(t, func() bool { return len(b.sink.byStatus(audit.StatusRejected)) == 1 }, 5*time.Second, 5*time.Millisecond)
	rec := b.sink.byStatus(audit.StatusRejected)[0]
	assert.Equal(t, "webhook.issues", rec.Action)
	assert.Contains(t, rec.Error, "body not received in full")
	assert.Contains(t, rec.Error, "too slow")
	assert.NotContains(t, rec.Error, "pad", "no body bytes in the record")
}

// TestAKeyPartWithAColonIsRefusedSoNoTwoDeliveriesShareAKey: delivery keys
// join their parts with ':'. Were ':' allowed in a part, hook "1:2" with
// guid "3" and hook "1" with guid "2:3" would share a key, and the second
// delivery would be answered 200 as a duplicate and never processed. Real
// hook ids are numbers, guids UUIDs, Slack event ids letters and digits
// (found in review).
func TestAKeyPartWithAColonIsRefusedSoNoTwoDeliveriesShareAKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{}`)
	tests := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{"a hook id with a colon", func() *http.Request {
			r := githubRequest(t, b.url, "3", body, "gh-secret")
			r.Header.Set(GitHubHookIDHeader, "1:2")
			return r
		}, http.StatusBadRequest},
		{"a delivery guid with a colon", func() *http.Request {
			r := githubRequest(t, b.url, "2:3", body, "gh-secret")
			r.Header.Set(GitHubHookIDHeader, "1")
			return r
		}, http.StatusBadRequest},
		{"a Slack event id with a colon", func() *http.Request {
			return slackRequest(t, b.url, []byte(`{"type":"event_callback","team_id":"T1","event_id":"body:x","event":{"type":"message"}}`))
		}, http.StatusBadRequest},
		{"a real GitHub delivery", func() *http.Request {
			r := githubRequest(t, b.url, "72d3162e-cc78-11e3-81ab-4c9367dc0958", body, "gh-secret")
			r.Header.Set(GitHubHookIDHeader, "292430182")
			return r
		}, http.StatusAccepted},
	}
	for _, tt := range tests {
		code, out := do(t, tt.req())
		assert.Equal(t, tt.want, code, "%s: %s", tt.name, out)
	}
}

// TestConcurrentCopiesOfOneDeliveryEnqueueOnce: copies of one delivery
// arriving together are each answered 202, and make one row, one job and
// one receipt that is not a duplicate.
func TestConcurrentCopiesOfOneDeliveryEnqueueOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{"action":"opened"}`)
	const n = 24
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = do(t, githubRequest(t, b.url, "guid-conc", body, "gh-secret"))
		}()
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, http.StatusAccepted, c, "copy %d", i)
	}
	b.settle(t)
	ds, err := b.db.List(context.Background(), "", 0)
	require.NoError(t, err)
	assert.Len(t, ds, 1)
	jobs, err := b.db.JobCounts(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, jobs["available"])
	firsts := 0
	for _, r := range b.sink.byStatus(audit.StatusReceived) {
		if r.Details["duplicate"] == false {
			firsts++
		}
	}
	assert.Equal(t, 1, firsts, "one receipt is the first copy's, the others say duplicate")
	assert.Len(t, b.sink.byStatus(audit.StatusReceived), n)
}

type failingStore struct{ err error }

func (f failingStore) Accept(context.Context, queue.NewDelivery) error {
	return f.err
}

// TestAStoreFailureRefusalIsAudited: a verified delivery refused with 503
// because the store failed is in the audit log, with its key, so the
// refusal can be matched with the provider's retry, and with what is known
// of it: not stored, or written but not confirmed (then it may be
// processed, and the retry is a duplicate), or not known (found in review).
func TestAStoreFailureRefusalIsAudited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		says string
	}{
		{"not stored", errors.New("disk I/O error"), "not stored"},
		{"written, not confirmed", fmt.Errorf("%w: sync: EIO", queue.ErrCommittedUnconfirmed), "written, but its record could not be synced"},
		{"not known", context.DeadlineExceeded, "it may have been stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := &memSink{}
			h := NewHandler(Options{Store: failingStore{tt.err}, Audit: sink, Secrets: Secrets{GitHub: secrets("gh-secret")}})
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			code, _ := do(t, githubRequest(t, srv.URL, "guid-store", []byte(`{}`), "gh-secret"))
			require.Equal(t, http.StatusServiceUnavailable, code)
			recs := sink.byStatus(audit.StatusRejected)
			require.Len(t, recs, 1)
			assert.Equal(t, "github:42:guid-store", recs[0].IdempotencyKey)
			assert.Equal(t, "webhook.issues", recs[0].Action)
			assert.Contains(t, recs[0].Error, "answered 503")
			assert.Contains(t, recs[0].Error, tt.says)
		})
	}
}
