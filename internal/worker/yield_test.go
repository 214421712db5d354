package worker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAJobDefersToTheReceiverWhileItIsBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// busyFor is how many Busy checks answer true (-1: always).
		busyFor  int64
		maxDefer time.Duration
		// wantChecks is the least number of Busy checks before yield returns.
		wantChecks int64
	}{
		{"an idle receiver costs one check", 0, time.Hour, 1},
		{"a busy receiver is waited for until it is idle", 5, time.Hour, 6},
		{"a receiver that is never idle is waited for at most MaxDefer", -1, 5 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var checks atomic.Int64
			w := New(Deps{MaxDefer: tt.maxDefer, Busy: func() bool {
				n := checks.Add(1)
				return tt.busyFor < 0 || n <= tt.busyFor
			}})
			done := make(chan struct{})
			go func() { w.yield(context.Background()); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("yield never returned")
			}
			assert.GreaterOrEqual(t, checks.Load(), tt.wantChecks)
			if tt.busyFor >= 0 {
				assert.Equal(t, tt.busyFor+1, checks.Load(), "it stops checking once the receiver is idle")
			}
		})
	}
}

func TestAJobStopsDeferringWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	w := New(Deps{MaxDefer: time.Hour, Busy: func() bool { return true }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.yield(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("yield ignored the cancelled context")
	}
}
