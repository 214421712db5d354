package worker

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// barrierLedger fails its first call, then holds each later call until a
// second one is in (or a few seconds pass), so two runs of one delivery
// that overlap are both seen.
type barrierLedger struct {
	mu     sync.Mutex
	calls  int
	booked map[string]string
	two    chan struct{}
}

func (l *barrierLedger) Record(_ context.Context, e payments.Event) (payments.Outcome, error) {
	l.mu.Lock()
	l.calls++
	n := l.calls
	if n == 1 {
		l.mu.Unlock()
		return payments.Outcome{}, errors.New("ledger unavailable")
	}
	if n == 3 {
		close(l.two)
	}
	l.mu.Unlock()
	select {
	case <-l.two:
	case <-time.After(3 * time.Second):
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if by, ok := l.booked[e.ID]; ok {
		return payments.Repeat(e, by, false), nil
	}
	l.booked[e.ID] = e.By
	return payments.Outcome{Recorded: true}, nil
}

func (l *barrierLedger) Get(context.Context, string) (payments.Event, bool, error) {
	return payments.Event{}, false, nil
}

// A worker process is killed right after its job committed the delivery's
// dead letter, before River recorded the job as cancelled: the job is left
// "running" under a dead client. The operator then runs `saas-mcp webhooks
// replay <id>` (which replays first and starts its worker, and so the
// orphans' rescue, after). The rescued job must not run the delivery
// beside the replay's job (found in review: two "processed" records, a
// second ledger call): it is of the delivery's earlier life
// (queue.DeliveryArgs.Life), and runs nothing.
func TestAReplayDoesNotRunADeadLetterTwiceBesideItsOrphanedJob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		orphan func(id int64) river.JobArgs
	}{
		{"the intake's batch job", func(id int64) river.JobArgs { return queue.BatchArgs{IDs: []int64{id}} }},
		{"a retry split off a batch", func(id int64) river.JobArgs { return queue.DeliveryArgs{ID: id, Life: 1} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ledger := &barrierLedger{booked: map[string]string{}, two: make(chan struct{})}
			b := setupWith(t, ledger, "sandbox", 1)
			key := "stripe:evt_orphan"
			id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
				Payload: stripeEvent("evt_orphan", false)})
			b.waitState(t, id, queue.StateDead)

			// The job that dead-lettered it, as a killed worker leaves it.
			require.NoError(t, b.db.Tx(ctx, func(tx *sql.Tx) error {
				res, err := b.client.InsertTx(ctx, tx, tc.orphan(id), b.wk.deliveryOpts(time.Time{}))
				if err != nil {
					return err
				}
				_, err = tx.Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', 'subsec'),
					attempted_by = json_array('saas-mcp-1-dead') WHERE id = ?`, res.Job.ID)
				return err
			}))

			replayed, err := b.wk.Replay(ctx, b.client, []int64{id}, nil)
			require.NoError(t, err)
			require.Equal(t, []int64{id}, replayed)
			// The replay command's worker starts: it releases the orphan.
			// Only the killed worker is dead: the bundle's own client runs
			// the replay's job meanwhile, and releasing that run too would
			// run the delivery twice for another reason (a flaky test, seen
			// once in CI: as RescueOrphans' flock check, alive is per client).
			_, err = b.db.RescueOrphans(ctx, func(client string) bool { return client != "saas-mcp-1-dead" }, nil)
			require.NoError(t, err)
			b.waitFinished(t, []int64{id})
			time.Sleep(4 * time.Second) // a second run, if any, finishes

			var processed int
			for _, s := range b.sink.statuses(key) {
				if s == audit.StatusProcessed {
					processed++
				}
			}
			assert.Equal(t, 1, processed, "the delivery ran once; statuses: %v", b.sink.statuses(key))
			d := b.find(t, id)
			assert.Equal(t, 1, d.ProcessedCount)
		})
	}
}
