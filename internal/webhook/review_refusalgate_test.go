package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// FlushRefusals is called just before the audit log is closed: it must not
// return while a summary the timer is writing is still on its way, or that
// summary is written after shutdown (or lost against a closed log).
func TestFlushRefusalsDoesNotReturnWhileATimerSummaryIsStillBeingWritten(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	g := newRefusalGate(clock.now, func(audit.Record) {
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
// bytes), as byAddr is capped to summaryAddrs entries.
func TestARefusalSummaryStaysBoundedWhateverEventNamesAnUnsignedFloodMakesUp(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	b := setup(t, func(o *Options) { o.Now = clock.now })
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
	assert.LessOrEqual(t, len(byAction), summaryAddrs, "byAction names every made-up event type")
	assert.LessOrEqual(t, len(line), 8<<10, "one summary record is %d bytes for %d refusals", len(line), extra)
}

// A clock that steps back (Options.Now need not be monotonic) must not
// stop one-by-one records for as long as the step: ten seconds after it,
// the pace has refilled by RefusalAuditRate a second.
func TestTheRefusalPaceRefillsAfterTheClockStepsBack(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	g := newRefusalGate(clock.now, func(audit.Record) {})
	g.every = time.Hour
	for range RefusalAuditBurst {
		require.True(t, g.admit("stripe", "webhook.unverified", "10.0.0.1:1"))
	}
	require.False(t, g.admit("stripe", "webhook.unverified", "10.0.0.1:1"))
	clock.advance(-time.Hour)
	clock.advance(10 * time.Second)
	admitted := 0
	for range RefusalAuditRate {
		if g.admit("stripe", "webhook.unverified", "10.0.0.1:1") {
			admitted++
		}
	}
	assert.Equal(t, RefusalAuditRate, admitted, "ten seconds after the step back, refusals admitted one by one")
	g.close()
}

// Options.Now is the clock for signature timestamps; a handler whose Now
// is pinned (to check recorded deliveries) must still refill the pace
// with real time, not hold back every refusal forever after the burst.
func TestTheRefusalPaceRefillsWithRealTimeWhenNowIsPinned(t *testing.T) {
	t.Parallel()
	pinned := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newRefusalGate(func() time.Time { return pinned }, func(audit.Record) {})
	g.every = time.Hour
	for range RefusalAuditBurst {
		require.True(t, g.admit("slack", "webhook.unverified", "10.0.0.1:1"))
	}
	time.Sleep(500 * time.Millisecond) // RefusalAuditRate a second: ~5 more
	assert.True(t, g.admit("slack", "webhook.unverified", "10.0.0.1:1"),
		"half a second after the burst, a refusal is audited one by one")
	g.close()
}
