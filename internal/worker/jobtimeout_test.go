package worker

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// hangingLedger blocks every call until its context ends (a ledger stuck
// on a lock, say).
type hangingLedger struct{}

func (hangingLedger) Record(ctx context.Context, _ payments.Event) (payments.Outcome, error) {
	<-ctx.Done()
	return payments.Outcome{}, ctx.Err()
}

func (hangingLedger) Get(context.Context, string) (payments.Event, bool, error) {
	return payments.Event{}, false, nil
}

// A handler that runs past River's job timeout has failed that attempt of
// its delivery, as any error would: README "Failures retry with full-jitter
// backoff; after WEBHOOK_MAX_ATTEMPTS the delivery is dead-lettered", and
// every step is audited ("failed"). runBatch and runDelivery took any ended
// job context for a stop, "not an attempt" (found in review): the timed-out
// attempt was neither audited nor counted, the job was retried on River's
// count (25 for a batch job in the receiver) and the delivery finally
// dead-lettered by the give-up path with attempts 0 and no "failed" record.
func TestAHandlerThatOutlivesTheJobTimeoutIsAFailedAttemptAuditedAndCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	sink := &memSink{}
	wk := New(Deps{DB: db, Audit: sink, Ledger: hangingLedger{}, Env: "sandbox", MaxAttempts: 2,
		RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	ws := river.NewWorkers()
	wk.Register(ws)
	client, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 2, FetchPollInterval: 20 * time.Millisecond,
		JobTimeout: 150 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(client, 4)})
	require.NoError(t, err)
	t.Cleanup(func() {
		in.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(sctx))
		require.NoError(t, db.Close())
	})
	b := &testBundle{db: db, wk: wk, client: client, intake: in, sink: sink}

	key := "stripe:evt_hang"
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
		Payload: stripeEvent("evt_hang", false)})
	d := b.waitState(t, id, queue.StateDead)
	assert.Equal(t, 2, d.Attempts, "WEBHOOK_MAX_ATTEMPTS attempts, each counted; last error %q", d.LastError)
	assert.Equal(t, []string{audit.StatusFailed, audit.StatusFailed, audit.StatusDeadLettered}, sink.statuses(key))
}
