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
	args := ticket("idempotencyKey", "deploy-42")
	release, done := firstCallWaiting(t, b, args)
	offset.Store(int64(10 * time.Minute)) // the wall clock steps forward while the call waits

	_, err := b.call(args) // the agent's retry, in the same process
	release()
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
			release, done := firstCallWaiting(t, b, ticket("idempotencyKey", "deploy-7"))
			_, err := b.call(tc.retry)
			release()
			require.NoError(t, <-done)
			require.Error(t, err)
			assert.Equal(t, KindConflict, KindOf(err))
			assert.Contains(t, err.Error(), tc.want)
			assert.EqualValues(t, 1, b.runs.Load())
		})
	}
}

// firstCallWaiting starts b.call(args) in the background and returns once
// it has reached the provider, where it waits (a slow provider: rate-limit
// waits, a slow answer) until release is called; done gives its error.
func firstCallWaiting(t *testing.T, b *bundle, args map[string]any) (release func(), done <-chan error) {
	t.Helper()
	started, held := make(chan struct{}), make(chan struct{})
	run := b.tool.Run
	var first atomic.Bool
	b.tool.Run = func(ctx context.Context, c *Call) (any, error) {
		if first.CompareAndSwap(false, true) {
			close(started)
			<-held
		}
		return run(ctx, c)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := b.call(args)
		errc <- err
	}()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("the first call ended before reaching the provider: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the first call never reached the provider")
	}
	return func() { close(held) }, errc
}
