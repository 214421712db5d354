package chain

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README says "A key
// is never expired while its call holds it (its lease runs, renewed while
// the call waits): an identical call meanwhile gets 'in progress'". The
// lease is wall-clock time renewed by a monotonic timer every third of it,
// so a wall clock that steps forward while a call waits on a slow provider
// (NTP stepping a drifted clock, a VM or laptop resuming) makes the running
// call's lease look spent. A retry in the very process that runs the call
// (Alive is true, but only the lease is consulted) then reacquires the key,
// reconciles before the first call has acted, finds nothing, and sends: two
// effects for one key, although this process knows the first call is still
// running (found in review). So a key one of this process's calls holds is
// in progress, whatever its lease says.
func TestACallStillRunningInThisProcessIsNeverTakenOver(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	var offset atomic.Int64
	b.idem.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	started, release := make(chan struct{}), make(chan struct{})
	run := b.tool.Run
	var first atomic.Bool
	b.tool.Run = func(ctx context.Context, c *Call) (any, error) {
		if first.CompareAndSwap(false, true) {
			close(started)
			<-release // a slow provider (rate-limit waits, a slow answer)
		}
		return run(ctx, c)
	}
	args := ticket("idempotencyKey", "deploy-42")

	done := make(chan error, 1)
	go func() {
		_, err := b.call(args)
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the first call ended before reaching the provider: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the first call never reached the provider")
	}
	offset.Store(int64(10 * time.Minute)) // the wall clock steps forward while the call waits

	_, err := b.call(args) // the agent's retry, in the same process
	close(release)
	require.NoError(t, <-done)
	assert.Error(t, err, "the retry must not act while the first call runs")
	assert.Equal(t, KindConflict, KindOf(err), "in progress: %v", err)
	assert.EqualValues(t, 1, b.runs.Load(), "one provider call for one key")
}

// A key one of this process's calls holds, reused with other arguments
// while that call runs: the error must say the arguments differ, not
// "retry later with the same key", since that retry would then be refused
// for its arguments (found in review). The same arguments are "in
// progress".
func TestAKeyHeldByARunningCallIsRefusedForWhatTheRetryChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		retry map[string]any
		want  string
	}{
		{"the same arguments", ticket("idempotencyKey", "deploy-7"), "still in progress"},
		{"other arguments", ticket("idempotencyKey", "deploy-7", "title", "another"), "already used with different arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
			started, release := make(chan struct{}), make(chan struct{})
			run := b.tool.Run
			var first atomic.Bool
			b.tool.Run = func(ctx context.Context, c *Call) (any, error) {
				if first.CompareAndSwap(false, true) {
					close(started)
					<-release
				}
				return run(ctx, c)
			}
			done := make(chan error, 1)
			go func() {
				_, err := b.call(ticket("idempotencyKey", "deploy-7"))
				done <- err
			}()
			select {
			case <-started:
			case err := <-done:
				t.Fatalf("the first call ended before reaching the provider: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("the first call never reached the provider")
			}
			_, err := b.call(tc.retry)
			close(release)
			require.NoError(t, <-done)
			require.Error(t, err)
			assert.Equal(t, KindConflict, KindOf(err))
			assert.Contains(t, err.Error(), tc.want)
			assert.EqualValues(t, 1, b.runs.Load())
		})
	}
}
