package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// receiverProc is a running `saas-mcp webhooks`.
type receiverProc struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "saas-mcp")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func startReceiver(t *testing.T, bin, dir, addr string) *receiverProc {
	t.Helper()
	cmd := exec.Command(bin, "webhooks")
	cmd.Env = append(os.Environ(),
		"DATA_DIR="+filepath.Join(dir, "data"), "AUDIT_LOG_PATH="+filepath.Join(dir, "audit.ndjson"),
		"GITHUB_WEBHOOK_SECRET=e2e-secret", "WEBHOOK_ADDR="+addr, "LOG_LEVEL=warn", "WEBHOOK_WORKERS=4")
	logf, err := os.OpenFile(filepath.Join(dir, "receiver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	p := &receiverProc{cmd: cmd, url: "http://" + addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "receiver never became ready")
	return p
}

type e2eDelivery struct {
	guid string
	body []byte
}

func (d e2eDelivery) send(client *http.Client, url string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/github", strings.NewReader(string(d.body)))
	if err != nil {
		return 0, err
	}
	mac := hmac.New(sha256.New, []byte("e2e-secret"))
	mac.Write(d.body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", d.guid)
	req.Header.Set("X-GitHub-Hook-ID", "7")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestWebhooksSurviveSIGKILL: thousands of signed deliveries (a fifth sent
// twice) at concurrency 16; the receiver is killed with SIGKILL part-way and
// restarted on the same data directory; what got no answer is sent again.
// Every delivery answered 2xx is then processed exactly once and none is
// lost.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	const n, conc = 3000, 16
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)

	pad := strings.Repeat("lorem ipsum ", 150)
	var work []e2eDelivery
	for i := range n {
		d := e2eDelivery{guid: fmt.Sprintf("e2e-%05d", i),
			body: []byte(fmt.Sprintf(`{"action":"opened","issue":{"number":%d},"repository":{"full_name":"acme/e2e"},"pad":%q}`, i, pad))}
		work = append(work, d)
		if i%5 == 0 {
			work = append(work, d) // a provider retry
		}
	}
	rand.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })

	var (
		mu         sync.Mutex
		answered   = map[string]int{} // guid -> 2xx answers
		unanswered []e2eDelivery
		answers    atomic.Int64
	)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	sendAll := func(p *receiverProc, list []e2eDelivery, killAfter int64) {
		next := atomic.Int64{}
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(len(list)) {
						return
					}
					code, err := list[i].send(client, p.url)
					mu.Lock()
					if err == nil && code >= 200 && code < 300 {
						answered[list[i].guid]++
					} else {
						unanswered = append(unanswered, list[i])
					}
					mu.Unlock()
					if answers.Add(1) == killAfter {
						assert.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
					}
				}
			}()
		}
		wg.Wait()
	}

	start := time.Now()
	p1 := startReceiver(t, bin, dir, addr)
	sendAll(p1, work, int64(len(work)/3))
	<-p1.done
	mu.Lock()
	retry := unanswered
	unanswered = nil
	mu.Unlock()
	require.NotEmpty(t, retry, "the kill left some deliveries unanswered")
	t.Logf("first run: %d answered 2xx, %d unanswered (killed), %s", len(answered), len(retry), time.Since(start))

	p2 := startReceiver(t, bin, dir, addr)
	sendAll(p2, retry, -1)
	require.Empty(t, unanswered, "after the restart every re-sent delivery is answered")

	db, err := queue.Open(context.Background(), filepath.Join(dir, "data", queue.FileName), queue.Options{})
	require.NoError(t, err)
	defer db.Close()
	// The condition runs on another goroutine, where require cannot stop the
	// test: a failed count fails the tick, and the last tick's failures are
	// reported if the time runs out.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		counts, err := db.Counts(context.Background())
		if !assert.NoError(c, err, "count deliveries") {
			return
		}
		assert.Zero(c, counts[queue.StatePending], "deliveries still pending")
		assert.Positive(c, counts[queue.StateProcessed], "deliveries processed")
	}, 40*time.Second, 100*time.Millisecond)
	require.NoError(t, p2.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-p2.done, "SIGTERM drains and exits 0")

	all, err := db.List(context.Background(), "", 0)
	require.NoError(t, err)
	byKey := map[string]queue.Delivery{}
	for _, d := range all {
		byKey[d.Key] = d
	}
	require.Len(t, answered, n, "every delivery was answered 2xx in the end")
	for guid := range answered {
		d, ok := byKey["github:7:"+guid]
		if !assert.True(t, ok, "answered %s but not stored", guid) {
			continue
		}
		assert.Equal(t, queue.StateProcessed, d.State, guid)
		assert.Equal(t, 1, d.ProcessedCount, "%s processed exactly once", guid)
	}
	assert.Len(t, all, n, "no delivery stored twice")

	// Each delivery was enqueued once: one batch-job entry per row.
	seen := map[int64]int{}
	rows, err := db.Writer().Query(`SELECT json(args) FROM river_job WHERE kind = 'webhook_batch'`)
	require.NoError(t, err)
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var a queue.BatchArgs
		require.NoError(t, json.Unmarshal(raw, &a))
		for _, id := range a.IDs {
			seen[id]++
		}
	}
	require.NoError(t, rows.Close())
	for _, d := range all {
		assert.Equal(t, 1, seen[d.ID], "delivery %s enqueued once", d.Key)
	}

	// The audit trail has the receipt and the processing of every delivery.
	f, err := os.Open(filepath.Join(dir, "audit.ndjson"))
	require.NoError(t, err)
	defer f.Close()
	received, processed := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct{ IdempotencyKey, Status string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		switch r.Status {
		case "received":
			received[r.IdempotencyKey]++
		case "processed":
			processed[r.IdempotencyKey]++
		}
	}
	for key := range byKey {
		assert.GreaterOrEqual(t, received[key], 1, "receipt of %s audited", key)
		assert.GreaterOrEqual(t, processed[key], 1, "processing of %s audited", key)
	}
	t.Logf("total %s; audit: %d keys processed", time.Since(start), len(processed))
}

// TestWebhooksDrainOnSIGTERM: SIGTERM under load stops the receiver cleanly
// (exit 0) and every delivery it answered 2xx is stored.
func TestWebhooksDrainOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startReceiver(t, bin, dir, freeAddr(t))
	client := &http.Client{Timeout: 10 * time.Second}
	var (
		mu       sync.Mutex
		answered []string
		sent     atomic.Int64
		wg       sync.WaitGroup
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				d := e2eDelivery{guid: fmt.Sprintf("term-%d-%d", g, i), body: []byte(`{"action":"opened","repository":{"full_name":"acme/t"}}`)}
				code, err := d.send(client, p.url)
				if err != nil {
					return // the listener is closed: stop like a provider would
				}
				if code >= 200 && code < 300 {
					mu.Lock()
					answered = append(answered, d.guid)
					mu.Unlock()
				}
				if sent.Add(1) == 300 {
					assert.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, <-p.done, "SIGTERM exits 0")
	require.NotEmpty(t, answered)

	db, err := queue.Open(context.Background(), filepath.Join(dir, "data", queue.FileName), queue.Options{})
	require.NoError(t, err)
	defer db.Close()
	for _, guid := range answered {
		_, err := db.Find(context.Background(), "github:7:"+guid)
		assert.NoError(t, err, "answered %s but not stored", guid)
	}
}
