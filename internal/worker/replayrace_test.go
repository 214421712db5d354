package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// hookSink is a memSink that runs hook once, on the first record with
// status, before storing it: it lets a test put another operator's action
// between a replay's read of the delivery and its commit.
type hookSink struct {
	*memSink
	status string
	once   sync.Once
	hook   func()
}

func (h *hookSink) Write(ctx context.Context, r audit.Record) error {
	if r.Status == h.status {
		h.once.Do(h.hook)
	}
	return h.memSink.Write(ctx, r)
}

// Two operators replay the same dead letter from two terminals (or two
// `replay --all-dead` runs overlap). Terminal B reads the delivery as dead;
// before B commits, terminal A's replay commits and the worker processes
// the delivery. B's replay must then be refused: it asked to run a dead
// letter again, and the delivery is not dead any more. Today Requeue
// accepts any state but pending, so B's replay re-runs the processed
// delivery (a second "processed", processed_count 2), and B's "replayed"
// record says previousState "dead" of a delivery that was processed.
func TestTwoReplaysOfOneDeadLetterThatOverlapRunItOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &fakeLedger{failures: 3}, "sandbox", 3)
	key := "stripe:evt_two_terminals"
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
		Payload: stripeEvent("evt_two_terminals", false)})
	b.waitState(t, id, queue.StateDead)

	// Terminal B: its own Worker on the same queue, whose audit write of
	// "replayed" (after its read, before its commit) lets terminal A's
	// replay run to the end first.
	var aErr error
	hs := &hookSink{memSink: b.sink, status: audit.StatusReplayed}
	hs.hook = func() {
		_, aErr = b.wk.Replay(ctx, b.client, []int64{id}, nil)
		if aErr == nil {
			aErr = WaitFinished(ctx, b.db, []int64{id}, 10*time.Millisecond, nil)
		}
	}
	termB := New(Deps{DB: b.db, Audit: hs, Ledger: b.ledger, Env: "sandbox", MaxAttempts: 3,
		RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	replayedB, errB := termB.Replay(ctx, b.client, []int64{id}, nil)
	require.NoError(t, aErr, "terminal A's replay")
	b.waitFinished(t, []int64{id})
	time.Sleep(200 * time.Millisecond) // let a second run, if any, finish

	d := b.find(t, id)
	assert.ErrorIs(t, errB, queue.ErrChanged, "terminal B's replay of a dead letter that terminal A already replayed is refused")
	assert.Empty(t, replayedB)
	assert.Equal(t, 1, d.Replays, "replayed once")
	assert.Equal(t, 1, d.ProcessedCount, "processed once")
	var processed int
	for _, s := range b.sink.statuses(key) {
		if s == audit.StatusProcessed {
			processed++
		}
	}
	assert.Equal(t, 1, processed, "one processed record; statuses: %v", b.sink.statuses(key))
}
