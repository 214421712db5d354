package worker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// yieldWithin runs w.yield(ctx, n) and fails the test if it has not
// returned within limit; it returns how long it took.
func yieldWithin(t *testing.T, ctx context.Context, w *Worker, n int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { w.yield(ctx, n); close(done) }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("yield of %d did not return within %v", n, limit)
		return 0
	}
}

func TestAJobDefersToTheReceiverWhileItIsBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// busyFor is how many Busy checks answer true (-1: always).
		busyFor int64
		// rate is BusyRate; a first job of MaxIDsPerJob uses the burst up.
		rate float64
		// wantChecks is the least number of Busy checks before yield returns.
		wantChecks int64
	}{
		{"an idle receiver costs one check", 0, 1e-6, 1},
		{"a busy receiver is waited for until it is idle", 5, 1e-6, 6},
		{"a receiver that is never idle is waited for until the job's turn", -1, 1000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var checks atomic.Int64
			w := New(Deps{BusyRate: tt.rate, Busy: func() bool { return true }})
			yieldWithin(t, context.Background(), w, queue.MaxIDsPerJob, 30*time.Second) // the burst, at once
			w.d.Busy = func() bool {
				n := checks.Add(1)
				return tt.busyFor < 0 || n <= tt.busyFor
			}
			yieldWithin(t, context.Background(), w, 5, 30*time.Second)
			assert.GreaterOrEqual(t, checks.Load(), tt.wantChecks)
			if tt.busyFor >= 0 {
				assert.Equal(t, tt.busyFor+1, checks.Load(), "it stops checking once the receiver is idle")
			}
		})
	}
}

// TestAJobOfOneDeliveryWaitsOneDeliverysTurn: while the receiver is never
// idle, the worker's jobs share BusyRate by the deliveries they hold, so a
// replay or a retry (a job of one) waits for one delivery's turn, not for as
// long as a batch of 16. Found in review: every job waited up to the same
// 100 ms, so jobs of one crawled at 40 deliveries a second with 4 workers.
// The margins are wide (a 16th of the batch's wait against half of it).
func TestAJobOfOneDeliveryWaitsOneDeliverysTurn(t *testing.T) {
	t.Parallel()
	const perSecond = 10 // a delivery's turn every 100 ms, a batch's every 1.6 s
	w := New(Deps{BusyRate: perSecond, Busy: func() bool { return true }})
	ctx := context.Background()
	yieldWithin(t, ctx, w, queue.MaxIDsPerJob, 30*time.Second) // the burst, at once
	one := yieldWithin(t, ctx, w, 1, 30*time.Second)
	assert.Less(t, one, 800*time.Millisecond, "a job of one waited %v, as long as a batch's turn", one)
	assert.GreaterOrEqual(t, one, 50*time.Millisecond, "a job of one did not wait for its turn at all")
	batch := yieldWithin(t, ctx, w, queue.MaxIDsPerJob, 30*time.Second)
	assert.GreaterOrEqual(t, batch, time.Second, "a batch of 16 waits 16 deliveries' turns")
}

// TestATurnNotUsedIsGivenBack: a job that stops waiting because the receiver
// fell idle (or its context ended) gives its turn back, so the jobs behind it
// are not held for deliveries that were processed outside the pace.
func TestATurnNotUsedIsGivenBack(t *testing.T) {
	t.Parallel()
	var busy atomic.Bool
	busy.Store(true)
	w := New(Deps{BusyRate: 1, Busy: busy.Load}) // a delivery's turn every second
	ctx := context.Background()
	yieldWithin(t, ctx, w, queue.MaxIDsPerJob, 30*time.Second) // the burst, at once
	go func() { time.Sleep(20 * time.Millisecond); busy.Store(false) }()
	yieldWithin(t, ctx, w, queue.MaxIDsPerJob, 10*time.Second) // 16 s of turns, ended by the idle receiver
	busy.Store(true)
	// Had the 16 turns been kept, the next delivery would wait about 17 s.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	took := yieldWithin(t, cctx, w, 1, 10*time.Second)
	require.Less(t, took, 5*time.Second)
	after := time.Until(w.busyPace.take(time.Now(), 1))
	assert.Less(t, after, 3*time.Second, "turns not used were kept: the next delivery waits %v", after)
}

func TestAJobStopsDeferringWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	w := New(Deps{BusyRate: 1e-6, Busy: func() bool { return true }})
	yieldWithin(t, context.Background(), w, queue.MaxIDsPerJob, 30*time.Second) // the burst, at once
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	yieldWithin(t, ctx, w, 1, 30*time.Second)
}
