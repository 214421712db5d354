package worker

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// Jobs that hold one delivery (a replay, a retry, the batch job of a
// delivery committed alone) take one delivery's turn at BusyRate while the
// receiver is busy, not a batch's. Found in review: every job waited up to
// the same 100 ms whatever its size, so with the receiver busy 4 workers
// processed 40 deliveries a second of such jobs (64 of them took 1.6 s more
// than with the receiver idle), and `webhooks replay --all-dead` of 10,000
// dead letters during traffic would wait over four minutes. Here BusyRate is
// 160 a second: paced per delivery, 64 deliveries take about 0.3 s more than
// idle; paced as batches, 6 s more.

const (
	reviewN    = 64
	reviewRate = 160
)

// reviewBusyBundle is a worker with WEBHOOK_WORKERS=4 and a BusyRate of 160
// whose receiver is busy when busy says so; River is not started.
func reviewBusyBundle(t *testing.T, busy *atomic.Bool) *testBundle {
	t.Helper()
	return bundleWith(t, Deps{Ledger: &fakeLedger{}, Env: "sandbox", MaxAttempts: 3, RetryBase: time.Millisecond,
		RetryCap: 5 * time.Millisecond, Busy: busy.Load, BusyRate: reviewRate}, 4, 10*time.Millisecond, false)
}

// reviewEnqueue stores n deliveries one after another: n batch jobs of one.
func (b *testBundle) reviewEnqueue(t *testing.T, n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = b.enqueue(t, queue.NewDelivery{Provider: "github", Key: "github:rv:" + strconv.Itoa(i), EventType: "star",
			Payload: []byte(`{"action":"created","repository":{"full_name":"acme/app"}}`)})
	}
	return ids
}

// reviewDrain starts River and returns how long the worker took to finish ids.
func (b *testBundle) reviewDrain(t *testing.T, ids []int64) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, b.client.Start(ctx))
	require.NoError(t, WaitFinished(ctx, b.db, ids, 2*time.Millisecond, nil))
	return time.Since(start)
}

func reviewAssertRate(t *testing.T, what string, idle, busy time.Duration) {
	t.Helper()
	t.Logf("%s of %d deliveries: %v with the receiver idle, %v with it busy", what, reviewN, idle, busy)
	// Paced per delivery: (64 - a burst of 16) / 160 = 0.3 s on top of the
	// idle run; paced as batches of 16: 6.4 s.
	assert.Less(t, busy-idle, 2*time.Second,
		"%s: with the receiver busy, %d deliveries took %v longer than with it idle (%.0f/s of added wait): jobs of one are not paced per delivery",
		what, reviewN, busy-idle, float64(reviewN)/(busy-idle).Seconds())
}

// A backlog of one-delivery batch jobs (the worker behind, or restarted).
func TestJobsOfOneDeliveryArePacedPerDeliveryWhileTheReceiverIsBusy(t *testing.T) {
	t.Parallel()
	took := map[bool]time.Duration{}
	for _, busy := range []bool{false, true} {
		var b atomic.Bool
		b.Store(busy)
		bd := reviewBusyBundle(t, &b)
		ids := bd.reviewEnqueue(t, reviewN)
		took[busy] = bd.reviewDrain(t, ids)
		assert.Equal(t, []string{"recorded"}, bd.sink.statuses("github:rv:0"))
	}
	reviewAssertRate(t, "batch jobs of one", took[false], took[true])
}

// `webhooks replay --all-dead` while the receiver takes in traffic.
func TestAReplayWhileTheReceiverIsBusyIsPacedPerDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	took := map[bool]time.Duration{}
	for _, busy := range []bool{false, true} {
		var b atomic.Bool
		bd := reviewBusyBundle(t, &b)
		ids := bd.reviewEnqueue(t, reviewN)
		bd.reviewDrain(t, ids) // processed once, idle
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		require.NoError(t, bd.client.Stop(sctx))
		cancel()
		done, err := bd.wk.Replay(ctx, bd.client, ids, nil) // enqueued; runs once River starts again
		require.NoError(t, err)
		require.Len(t, done, reviewN)
		b.Store(busy)
		took[busy] = bd.reviewDrain(t, ids)
		b.Store(false)
		assert.Equal(t, []string{"recorded", "replayed", "recorded"}, bd.sink.statuses("github:rv:0"))
	}
	reviewAssertRate(t, "replay", took[false], took[true])
}
