package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// TestTurnsGivenBackByConcurrentJobsAreNotLost: below saturation the
// receiver flickers between busy and idle, so the worker's concurrent jobs
// (WEBHOOK_WORKERS=4) each take a batch's turn while it is busy and all give
// it back at its next idle moment, in whatever order their polls come. Found
// in review: with golang.org/x/time/rate, whose Reservation.Cancel restores
// only what later reservations have not taken, every order but the reverse
// of taking lost turns, and after 40 such flickers the next delivery waited
// 2.4 to 2.5 s for its turn although every delivery had run while the
// receiver was idle.
func TestTurnsGivenBackByConcurrentJobsAreNotLost(t *testing.T) {
	t.Parallel()
	var busy atomic.Bool
	w := New(Deps{Busy: busy.Load}) // BusyRate: the default 640 a second
	ctx := context.Background()
	const workers, cycles = 4, 40
	start := time.Now()
	for range cycles {
		busy.Store(true)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() { defer wg.Done(); w.yield(ctx, queue.MaxIDsPerJob) }()
		}
		time.Sleep(2 * time.Millisecond) // every job has taken its turn
		busy.Store(false)                // the receiver's next idle moment
		wg.Wait()
	}
	elapsed := time.Since(start)

	// Every delivery above ran at an idle moment, outside the pace (but for
	// a burst's worth at most per cycle, which the limiter earns back at
	// 640 a second). Now the receiver is saturated: a delivery's turn must
	// come within about one batch's turn (16/640 s = 25 ms), not seconds.
	wait := time.Until(w.busyPace.take(time.Now(), 1))
	assert.Less(t, wait, 250*time.Millisecond,
		"after %d idle flickers in %v, in which every job gave its turn back, the next delivery waits %v for its turn: the turns given back were lost",
		cycles, elapsed, wait)
}
