package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// manualClock is a clock that moves only when told.
type manualClock struct{ ns atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *manualClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func (m *memSink) byAction(action string) []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Record
	for _, r := range m.recs {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

// An unauthenticated sender needs no secret: a flood of unsigned requests
// must not add an audit record per request to the append-only log. Each is
// still refused 401; the first RefusalAuditBurst are audited one by one,
// the rest are counted in one summary naming how many, which action and
// which address; the pace refills with time; a signed delivery in the
// middle of the flood is stored and audited as always.
func TestAFloodOfUnsignedRequestsIsAuditedAtAPaceAndSummarised(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	b := setup(t, nil)
	b.h.gate.now = clock.now
	b.h.gate.every = time.Hour // summaries at the flush only: the test does not race the timer
	flood := RefusalAuditBurst + 30
	for i := range flood {
		status, _ := do(t, githubRequest(t, b.url, fmt.Sprintf("bad-%d", i), []byte(`{}`), "wrong-secret"))
		require.Equal(t, http.StatusUnauthorized, status, "request %d", i)
	}
	status, _ := do(t, githubRequest(t, b.url, "good-1", []byte(`{"action":"opened","issue":{"number":7},"repository":{"full_name":"acme/app"}}`), "gh-secret"))
	require.Equal(t, http.StatusAccepted, status)
	b.settle(t)

	assert.Len(t, b.sink.byAction("webhook.issues"), RefusalAuditBurst+1, "the burst's refusals and the delivery's receipt")
	assert.Len(t, b.sink.byStatus(audit.StatusReceived), 1)
	assert.Empty(t, b.sink.byAction(RefusalsNotRecorded), "the summary waits for RefusalSummaryEvery or the flush")

	// A second later the pace allows RefusalAuditRate more records.
	clock.advance(time.Second)
	for i := range RefusalAuditRate + 5 {
		status, _ := do(t, githubRequest(t, b.url, fmt.Sprintf("later-%d", i), []byte(`{}`), "wrong-secret"))
		require.Equal(t, http.StatusUnauthorized, status)
	}
	assert.Len(t, b.sink.byAction("webhook.issues"), RefusalAuditBurst+RefusalAuditRate+1)

	b.h.FlushRefusals()
	sums := b.sink.byAction(RefusalsNotRecorded)
	require.Len(t, sums, 1)
	total := 0
	for _, s := range sums {
		assert.Equal(t, "github", s.Provider)
		assert.Equal(t, audit.StatusRejected, s.Status)
		assert.Equal(t, "/webhooks/github", s.Target)
		n := s.Details["notRecorded"].(int)
		total += n
		assert.Equal(t, map[string]any{"webhook.issues": n}, s.Details["byAction"])
		assert.Equal(t, map[string]any{"127.0.0.1": n}, s.Details["byAddr"])
	}
	assert.Equal(t, 30+5, total, "every refusal not audited one by one is counted once")

	// After the flush (the receiver shutting down) each refusal is audited.
	status, _ = do(t, githubRequest(t, b.url, "after-flush", []byte(`{}`), "wrong-secret"))
	require.Equal(t, http.StatusUnauthorized, status)
	assert.Len(t, b.sink.byAction("webhook.issues"), RefusalAuditBurst+RefusalAuditRate+2)
}

// Each provider has its own pace: a flood at one endpoint does not hide
// the refusals at another.
func TestOneProvidersFloodDoesNotHoldBackAnothersRefusalRecords(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	b := setup(t, nil)
	b.h.gate.now = clock.now
	for i := range RefusalAuditBurst + 10 {
		status, _ := do(t, githubRequest(t, b.url, fmt.Sprintf("bad-%d", i), []byte(`{}`), "wrong-secret"))
		require.Equal(t, http.StatusUnauthorized, status)
	}
	req, err := http.NewRequest(http.MethodPost, b.url+"/webhooks/stripe", nil)
	require.NoError(t, err)
	req.Header.Set(StripeSignatureHeader, "t=1,v1=00")
	status, _ := do(t, req)
	require.Equal(t, http.StatusUnauthorized, status)
	var stripe []audit.Record
	for _, r := range b.sink.byStatus(audit.StatusRejected) {
		if r.Provider == "stripe" {
			stripe = append(stripe, r)
		}
	}
	require.Len(t, stripe, 1)
	assert.Equal(t, "webhook.unverified", stripe[0].Action)
}

// The gate on its own: the summary is written RefusalSummaryEvery after
// the first refusal it holds (not only at shutdown), a later wave makes a
// summary of its own, and a summary names at most summaryEntries addresses,
// the busiest first, counting the others together.
func TestRefusalSummariesAreWrittenOnTheirOwnAndNameTheBusiestAddresses(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	var mu sync.Mutex
	var got []audit.Record
	g := newRefusalGate(func(r audit.Record) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	g.now, g.every = clock.now, 20*time.Millisecond
	summaries := func() []audit.Record {
		mu.Lock()
		defer mu.Unlock()
		return append([]audit.Record(nil), got...)
	}
	for range RefusalAuditBurst {
		require.True(t, g.admit("slack", "webhook.unverified", "10.0.0.1:5000"))
	}
	// 3 from one address, 2 from another, then one each from 30 more.
	for i := range 5 {
		addr := "10.0.0.1:1"
		if i >= 3 {
			addr = "[2001:db8::2]:7"
		}
		require.False(t, g.admit("slack", "webhook.unverified", addr))
	}
	for i := range 30 {
		require.False(t, g.admit("slack", "webhook.unverified", fmt.Sprintf("192.0.2.%d:9", i)))
	}
	require.Eventually(t, func() bool { return len(summaries()) == 1 }, 5*time.Second, time.Millisecond)
	s := summaries()[0]
	assert.Equal(t, 35, s.Details["notRecorded"])
	addrs := s.Details["byAddr"].(map[string]any)
	assert.Len(t, addrs, summaryEntries)
	assert.Equal(t, 3, addrs["10.0.0.1"])
	assert.Equal(t, 2, addrs["2001:db8::2"])
	sum := s.Details["otherAddrs"].(int)
	for _, n := range addrs {
		sum += n.(int)
	}
	assert.Equal(t, 35, sum, "every refusal is counted under an address or the others")

	require.False(t, g.admit("slack", "webhook.unverified", "10.0.0.9:1"), "the pace has not refilled")
	require.Eventually(t, func() bool { return len(summaries()) == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, summaries()[1].Details["notRecorded"])
	g.close()
	assert.Len(t, summaries(), 2, "nothing pending, nothing more written")
}

// FlushRefusals is called just before the audit log is closed: it must not
// return while a summary the timer is writing is still on its way, or that
// summary is written after shutdown (or lost against a closed log).
func TestFlushRefusalsDoesNotReturnWhileATimerSummaryIsStillBeingWritten(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	g := newRefusalGate(func(audit.Record) {
		once.Do(func() { close(entered) })
		<-release
	})
	g.every = time.Millisecond
	for range RefusalAuditBurst {
		require.True(t, g.admit("github", "webhook.issues", "10.0.0.1:1"))
	}
	require.False(t, g.admit("github", "webhook.issues", "10.0.0.1:1"))
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the timer never wrote the summary")
	}
	closed := make(chan struct{})
	go func() { g.close(); close(closed) }()
	select {
	case <-closed:
		close(release)
		t.Fatal("close (FlushRefusals) returned while the timer's summary was still being written: it lands after shutdown")
	case <-time.After(300 * time.Millisecond):
		close(release)
		<-closed
	}
}

// The summary exists so that unsigned junk cannot grow the audit log with
// the flood: its size must not grow with the number of distinct
// X-GitHub-Event values an unauthenticated sender makes up (each up to 200
// bytes), as byAddr is capped to summaryEntries entries.
func TestARefusalSummaryStaysBoundedWhateverEventNamesAnUnsignedFloodMakesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.h.gate.every = time.Hour
	const extra = 300
	for i := range RefusalAuditBurst + extra {
		req := githubRequest(t, b.url, fmt.Sprintf("bad-%d", i), []byte(`{}`), "wrong-secret")
		req.Header.Set(GitHubEventHeader, fmt.Sprintf("e%04d", i)+strings.Repeat("x", 195))
		status, _ := do(t, req)
		require.Equal(t, http.StatusUnauthorized, status)
	}
	b.h.FlushRefusals()
	sums := b.sink.byAction(RefusalsNotRecorded)
	require.Len(t, sums, 1)
	line, err := json.Marshal(sums[0])
	require.NoError(t, err)
	byAction := sums[0].Details["byAction"].(map[string]any)
	assert.LessOrEqual(t, len(byAction), summaryEntries, "byAction names every made-up event type")
	assert.LessOrEqual(t, len(line), 8<<10, "one summary record is %d bytes for %d refusals", len(line), extra)
}

// Options.Now is the clock for signature timestamps: it may be pinned (a
// test checking recorded deliveries) or stepped back. The pace must refill
// with real time all the same (found in review: rate.Limiter counts no time
// for a clock that stands still or goes back, so after the first burst no
// refusal was ever audited one by one again).
func TestTheRefusalPaceRefillsWithRealTimeWhateverOptionsNowSays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		now  func() time.Time
	}{
		{"pinned", func() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"an hour behind and standing still", func() func() time.Time {
			at := time.Now().Add(-time.Hour)
			return func() time.Time { return at }
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options) { o.Now = tc.now })
			b.h.gate.every = time.Hour
			refuse := func(guid string) int { // how many refusals are audited one by one so far
				status, _ := do(t, githubRequest(t, b.url, guid, []byte(`{}`), "wrong-secret"))
				require.Equal(t, http.StatusUnauthorized, status)
				return len(b.sink.byAction("webhook.issues"))
			}
			// Spend the burst, and whatever real time refilled meanwhile
			// (a loaded machine is slow to send a hundred requests): until
			// a refusal is held back.
			n := 0
			for i := 0; ; i++ {
				got := refuse(fmt.Sprintf("bad-%d", i))
				if got == n {
					break
				}
				n = got
				require.Less(t, i, 10*RefusalAuditBurst, "the pace never held a refusal back")
			}
			require.GreaterOrEqual(t, n, RefusalAuditBurst)
			time.Sleep(500 * time.Millisecond) // RefusalAuditRate a second: about 5 more
			assert.Equal(t, n+1, refuse("later"), "half a second after the burst, a refusal is audited one by one")
		})
	}
}
