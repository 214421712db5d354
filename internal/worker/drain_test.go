package worker

import (
	"context"
	"database/sql"
	"path/filepath"
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

// stopAtAudit is an audit sink that, at the first record of key, stops the
// worker's River client (as SIGTERM does once the drain deadline has
// passed: running jobs' contexts are cancelled) and returns once the job's
// context has ended, so the job goes on with a cancelled context. (A job
// that writes its records under a context of its own, as it now does, is
// given half a second for the stop to reach it.)
type stopAtAudit struct {
	*memSink
	key  string
	stop func()
	once sync.Once
}

func (s *stopAtAudit) WriteBatch(ctx context.Context, recs []audit.Record) error {
	for _, r := range recs {
		if err := s.Write(ctx, r); err != nil {
			return err
		}
		if r.IdempotencyKey == s.key {
			s.once.Do(func() {
				go s.stop()
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			})
		}
	}
	return nil
}

// TestAJobStoppedAfterItsRecordsAreWrittenStillCommitsItsOutcome: a job
// whose context is cancelled (the drain deadline of a SIGTERM) after its
// "processed" records were written must still commit the outcome they
// describe. It committed with the cancelled context, so the commit failed,
// the job ran again after the restart and the delivery was handled and
// audited "processed" a second time (noted as left in earlier notes). The
// commit is a short local transaction, so it runs to its end.
func TestAJobStoppedAfterItsRecordsAreWrittenStillCommitsItsOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	const key = "github:1:drain"
	sink := &stopAtAudit{memSink: &memSink{}, key: key}
	wk := New(Deps{DB: db, Audit: sink, Ledger: &fakeLedger{events: map[string]payments.Event{}}, Env: "sandbox", MaxAttempts: 5,
		RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	start := func() *queue.Client {
		ws := river.NewWorkers()
		wk.Register(ws)
		client, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 2, FetchPollInterval: 20 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, client.Start(ctx))
		return client
	}
	first := start()
	stopped := make(chan struct{})
	sink.stop = func() {
		_ = first.StopAndCancel(ctx) // running jobs' contexts are cancelled
		close(stopped)
	}
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(first, 5)})
	require.NoError(t, err)
	t.Cleanup(in.Close)
	res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
		Payload: []byte(`{"action":"opened","repository":{"full_name":"o/r"},"issue":{"number":1}}`)})
	require.NoError(t, err)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the job never wrote its audit records")
	}

	// The restarted worker runs whatever is left, until no job names the
	// delivery any more.
	second := start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = second.Stop(sctx)
	})
	require.Eventually(t, func() bool {
		live, err := db.LiveJobIDs(ctx, 0)
		return err == nil && !live[res.ID]
	}, 20*time.Second, 10*time.Millisecond)
	ds, err := db.Get(ctx, []int64{res.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, queue.StateProcessed, ds[0].State)
	assert.Equal(t, []string{audit.StatusProcessed}, sink.statuses(key), "handled and audited once")
}

// blockingLedger is a fakeLedger whose first Record of one event id waits
// until its context ends (a ledger write held up, say, by state.db's busy
// handler while serve writes) and then fails with the context's error.
type blockingLedger struct {
	*fakeLedger
	blockID string
	once    sync.Once
	blocked chan struct{}
}

func (l *blockingLedger) Record(ctx context.Context, e payments.Event) (payments.Outcome, error) {
	first := false
	if e.ID == l.blockID {
		l.once.Do(func() { first = true })
	}
	if first {
		close(l.blocked)
		<-ctx.Done()
		return payments.Outcome{}, ctx.Err()
	}
	return l.fakeLedger.Record(ctx, e)
}

// A batch job stopped by SIGTERM (the drain deadline passed, River cancels
// the job) after its first Stripe delivery was booked in the ledger, while
// its second one was still in its handler. The job runs again after the
// restart, and the first delivery's event is then a duplicate in the ledger.
// The audit log must still say which delivery booked the event: some record
// of the first delivery has recorded=true. runBatch dropped the records of
// the deliveries it had handled when its context ended, so the only record
// of the first delivery said duplicate=true, recorded=false, and no record
// anywhere said the event was booked (found in review). A handler that has
// run now has its step finished; what was not run goes to jobs of its own.
func TestABatchStoppedMidwayFinishesTheStepsOfTheDeliveriesItHandled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	sink := &memSink{}
	ledger := &blockingLedger{fakeLedger: &fakeLedger{events: map[string]payments.Event{}}, blockID: "evt_b2",
		blocked: make(chan struct{})}
	wk := New(Deps{DB: db, Audit: sink, Ledger: ledger, Env: "sandbox", MaxAttempts: 3,
		RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	newClient := func() *queue.Client {
		ws := river.NewWorkers()
		wk.Register(ws)
		c, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 2, FetchPollInterval: 20 * time.Millisecond})
		require.NoError(t, err)
		return c
	}
	first := newClient()
	// One batch job for both deliveries, as one group commit makes it.
	var mu sync.Mutex
	var pending []int64
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(ctx context.Context, tx *sql.Tx, ids []int64) error {
		mu.Lock()
		defer mu.Unlock()
		pending = append(pending, ids...)
		if len(pending) < 2 {
			return nil
		}
		_, err := first.InsertManyFastTx(ctx, tx, []river.InsertManyParams{{
			Args: queue.BatchArgs{IDs: pending}, InsertOpts: &river.InsertOpts{Queue: queue.QueueName, MaxAttempts: 5}}})
		return err
	}})
	require.NoError(t, err)
	var second *queue.Client
	t.Cleanup(func() {
		in.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = first.Stop(sctx)
		if second != nil {
			_ = second.Stop(sctx)
		}
		require.NoError(t, db.Close())
	})
	event := func(id, pi string) []byte {
		return []byte(`{"id":"` + id + `","object":"event","type":"payment_intent.succeeded","created":1700000000,"livemode":false,` +
			`"data":{"object":{"id":"` + pi + `","object":"payment_intent","amount":500,"amount_received":500,"currency":"eur","customer":"cus_1"}}}`)
	}
	b := &testBundle{db: db, wk: wk, sink: sink}
	id1 := (&testBundle{intake: in}).enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_b1",
		EventType: "payment_intent.succeeded", Payload: event("evt_b1", "pi_b1")})
	id2 := (&testBundle{intake: in}).enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_b2",
		EventType: "payment_intent.succeeded", Payload: event("evt_b2", "pi_b2")})

	require.NoError(t, first.Start(ctx))
	select {
	case <-ledger.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("the batch job never reached its second delivery")
	}
	// evt_b1 is in the ledger now; SIGTERM's drain deadline passes and the
	// running job is cancelled.
	_, booked, _ := ledger.Get(ctx, "evt_b1")
	require.True(t, booked, "the first delivery's event is booked before the stop")
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, first.StopAndCancel(sctx))

	// The restart runs the job again.
	second = newClient()
	require.NoError(t, second.Start(ctx))
	b.waitState(t, id1, queue.StateProcessed)
	b.waitState(t, id2, queue.StateProcessed)

	recs := sink.records("stripe:evt_b1")
	var bookedBy []bool
	for _, r := range recs {
		bookedBy = append(bookedBy, r.Details["recorded"] == true)
	}
	t.Logf("audit records of stripe:evt_b1: %d, recorded flags %v", len(recs), bookedBy)
	assert.Equal(t, []bool{true}, bookedBy, "audited once, as the delivery that booked the event")
	assert.Contains(t, bookedBy, true,
		"no audit record says that the delivery stripe:evt_b1 booked evt_b1, yet the ledger holds it: "+
			"the records of a batch stopped mid-way were dropped and the rerun audits it as a duplicate")
}
