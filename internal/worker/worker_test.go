package worker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// memSink is an in-memory audit.Sink.
type memSink struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (m *memSink) Write(_ context.Context, r audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, r)
	return nil
}

func (m *memSink) statuses(key string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.recs {
		if r.IdempotencyKey == key {
			out = append(out, r.Status)
		}
	}
	return out
}

// fakeLedger records events by id; failures > 0 makes that many calls fail
// first; stale marks every event stale.
type fakeLedger struct {
	mu       sync.Mutex
	events   map[string]payments.Event
	calls    int
	failures int
	stale    bool
}

func (l *fakeLedger) Record(_ context.Context, e payments.Event) (payments.Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.failures > 0 {
		l.failures--
		return payments.Outcome{}, errors.New("ledger unavailable")
	}
	if l.stale {
		return payments.Outcome{Stale: true}, nil
	}
	if _, ok := l.events[e.ID]; ok {
		return payments.Outcome{Duplicate: true}, nil
	}
	l.events[e.ID] = e
	return payments.Outcome{Recorded: true}, nil
}

func (l *fakeLedger) Get(_ context.Context, id string) (payments.Event, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.events[id]
	return e, ok, nil
}

type testBundle struct {
	db     *queue.DB
	wk     *Worker
	client *queue.Client
	intake *queue.Intake
	sink   *memSink
	ledger *fakeLedger
}

// setup runs a worker with River on a temp database; retries wait at most
// a few milliseconds.
func setup(t *testing.T, ledger *fakeLedger, env string, maxAttempts int) *testBundle {
	t.Helper()
	if ledger.events == nil {
		ledger.events = map[string]payments.Event{}
	}
	b := setupWith(t, ledger, env, maxAttempts)
	b.ledger = ledger
	return b
}

// setupWith is setup with any payments ledger.
func setupWith(t *testing.T, ledger payments.Ledger, env string, maxAttempts int) *testBundle {
	t.Helper()
	return bundleWith(t, Deps{Ledger: ledger, Env: env, MaxAttempts: maxAttempts,
		RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond}, 2, 20*time.Millisecond, true)
}

// bundleWith opens a queue, makes a worker of d (its DB and Audit filled
// in), registers it with a River client of maxWorkers polling every poll,
// starts River if start says so, and opens an intake.
func bundleWith(t *testing.T, d Deps, maxWorkers int, poll time.Duration, start bool) *testBundle {
	t.Helper()
	ctx := context.Background()
	db, err := queue.Open(ctx, filepath.Join(t.TempDir(), queue.FileName), queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	sink := &memSink{}
	d.DB, d.Audit = db, sink
	wk := New(d)
	ws := river.NewWorkers()
	wk.Register(ws)
	client, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: maxWorkers, FetchPollInterval: poll})
	require.NoError(t, err)
	if start {
		require.NoError(t, client.Start(ctx))
	}
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(client, 5)})
	require.NoError(t, err)
	t.Cleanup(func() {
		in.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(sctx))
		require.NoError(t, db.Close())
	})
	return &testBundle{db: db, wk: wk, client: client, intake: in, sink: sink}
}

func (b *testBundle) enqueue(t *testing.T, d queue.NewDelivery) int64 {
	t.Helper()
	res, err := b.intake.Enqueue(context.Background(), d)
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	return res.ID
}

// waitState polls until the delivery reaches state.
// waitFinished is WaitFinished bounded for a test: a replay whose job never
// runs fails here within 30 s, with the ids, instead of hanging until go
// test's own timeout (as mutation testing found).
func (b *testBundle) waitFinished(t *testing.T, ids []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, WaitFinished(ctx, b.db, ids, 10*time.Millisecond, nil), "deliveries %v never finished", ids)
}

func (b *testBundle) waitState(t *testing.T, id int64, state string) queue.Delivery {
	t.Helper()
	var d queue.Delivery
	require.Eventually(t, func() bool {
		ds, err := b.db.Load(context.Background(), []int64{id})
		if err != nil || len(ds) == 0 { // not require: this runs on testify's goroutine
			return false
		}
		d = ds[0]
		return d.State == state
	}, 20*time.Second, 10*time.Millisecond, "delivery %d never reached %s", id, state)
	return d
}

func stripeEvent(id string, livemode bool) []byte {
	lm := "false"
	if livemode {
		lm = "true"
	}
	return []byte(`{"id":"` + id + `","object":"event","type":"checkout.session.completed","created":1700000000,"livemode":` + lm +
		`,"data":{"object":{"id":"cs_1","object":"checkout.session","amount_total":4200,"currency":"eur","customer":"cus_1","customer_details":{"email":"a@example.com"}}}}`)
}

func TestUnknownEventTypeIsRecordedAndAcknowledged(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 3)
	id := b.enqueue(t, queue.NewDelivery{Provider: "github", Key: "github:1:star", EventType: "star",
		Payload: []byte(`{"action":"created","repository":{"full_name":"acme/app"}}`)})
	d := b.waitState(t, id, queue.StateProcessed)
	assert.Equal(t, audit.StatusRecorded, d.Outcome)
	assert.Equal(t, 1, d.ProcessedCount)
	assert.Equal(t, []string{audit.StatusRecorded}, b.sink.statuses("github:1:star"))
}

func TestGitHubIssueReachesTheAuditTrail(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 3)
	id := b.enqueue(t, queue.NewDelivery{Provider: "github", Key: "github:1:iss", EventType: "issues",
		Payload: []byte(`{"action":"opened","issue":{"number":7},"repository":{"full_name":"acme/app"}}`)})
	b.waitState(t, id, queue.StateProcessed)
	b.sink.mu.Lock()
	defer b.sink.mu.Unlock()
	require.Len(t, b.sink.recs, 1)
	r := b.sink.recs[0]
	assert.Equal(t, "webhook.issues", r.Action)
	assert.Equal(t, "acme/app", r.Target)
	assert.Equal(t, audit.StatusProcessed, r.Status)
	assert.Equal(t, 7, r.Details["issue"])
}

func TestFailureRetriesThenDeadLettersThenReplayProcesses(t *testing.T) {
	t.Parallel()
	ledger := &fakeLedger{failures: 3}
	b := setup(t, ledger, "sandbox", 3)
	key := "stripe:evt_fail"
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
		Payload: stripeEvent("evt_fail", false)})

	d := b.waitState(t, id, queue.StateDead)
	assert.Equal(t, 3, d.Attempts)
	assert.Contains(t, d.LastError, "ledger unavailable")
	assert.Equal(t, []string{"failed", "failed", "failed", "dead_lettered"}, b.sink.statuses(key))
	dead, err := b.db.List(context.Background(), queue.StateDead, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)

	replayed, err := b.wk.Replay(context.Background(), b.client, []int64{id}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, replayed)
	b.waitFinished(t, replayed)
	d = b.waitState(t, id, queue.StateProcessed)
	assert.Equal(t, 1, d.Replays)
	assert.Equal(t, 1, d.ProcessedCount)
	assert.Equal(t, []string{"failed", "failed", "failed", "dead_lettered", "replayed", "processed"}, b.sink.statuses(key))
	_, ok, _ := ledger.Get(context.Background(), "evt_fail")
	assert.True(t, ok, "the replay recorded the event")

	_, err = b.wk.Replay(context.Background(), b.client, []int64{999}, nil)
	assert.ErrorIs(t, err, queue.ErrNotFound)
}

func TestPermanentFailureIsDeadLetteredAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 5)
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_bad", EventType: "payment_intent.succeeded",
		Payload: []byte(`{"id":"evt_bad","type":"payment_intent.succeeded","data":{"object":"not an object"}}`)})
	d := b.waitState(t, id, queue.StateDead)
	assert.Equal(t, 1, d.Attempts, "a payload that cannot parse is not retried")
}

func TestStripeOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ledger    *fakeLedger
		env       string
		eventType string
		livemode  bool
		status    string
		recorded  bool
	}{
		{"a test-mode event in sandbox is recorded", &fakeLedger{}, "sandbox", "checkout.session.completed", false, audit.StatusProcessed, true},
		{"an event older than the object's last is audited stale", &fakeLedger{stale: true}, "sandbox", "checkout.session.completed", false, StatusStale, false},
		{"a live-mode event in sandbox is rejected, not recorded", &fakeLedger{}, "sandbox", "checkout.session.completed", true, audit.StatusRejected, false},
		{"an unhandled test-mode event in sandbox is recorded and acknowledged", &fakeLedger{}, "sandbox", "customer.created", false, audit.StatusRecorded, false},
		{"an unhandled live-mode event in sandbox is rejected too", &fakeLedger{}, "sandbox", "customer.created", true, audit.StatusRejected, false},
		{"an unhandled test-mode event in live is rejected", &fakeLedger{}, "live", "invoice.paid", false, audit.StatusRejected, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.ledger, tt.env, 3)
			id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_o", EventType: tt.eventType,
				Payload: stripeEvent("evt_o", tt.livemode)})
			d := b.waitState(t, id, queue.StateProcessed)
			assert.Equal(t, tt.status, d.Outcome)
			assert.Equal(t, []string{tt.status}, b.sink.statuses("stripe:evt_o"))
			_, ok, _ := tt.ledger.Get(context.Background(), "evt_o")
			assert.Equal(t, tt.recorded, ok)
		})
	}
}

func TestBackoffIsFullJitterUnderTheCap(t *testing.T) {
	t.Parallel()
	w := New(Deps{RetryBase: time.Second, RetryCap: 10 * time.Second, Rand: func() float64 { return 0.999999 }})
	assert.InDelta(t, float64(time.Second), float64(w.Backoff(1)), float64(time.Millisecond))
	assert.InDelta(t, float64(4*time.Second), float64(w.Backoff(3)), float64(time.Millisecond))
	assert.InDelta(t, float64(10*time.Second), float64(w.Backoff(30)), float64(time.Millisecond), "capped")
	w = New(Deps{RetryBase: time.Second, Rand: func() float64 { return 0 }})
	assert.Zero(t, w.Backoff(5), "full jitter reaches zero")
}

// batchCounter is a BatchSink over memSink that counts batches.
type batchCounter struct {
	*memSink
	batches atomic.Int64
}

func (c *batchCounter) WriteBatch(ctx context.Context, recs []audit.Record) error {
	c.batches.Add(1)
	for _, r := range recs {
		if err := c.Write(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func TestEachJobsRecordsAreWrittenAsOneBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 3)
	bc := &batchCounter{memSink: b.sink}
	b.wk.d.Audit = bc
	syncs := &bc.batches
	id := b.enqueue(t, queue.NewDelivery{Provider: "slack", Key: "slack:Ev9", EventType: "event_callback",
		Payload: []byte(`{"team_id":"T1","event":{"type":"app_mention","channel":"C1"}}`)})
	b.waitState(t, id, queue.StateProcessed)
	assert.Equal(t, []string{audit.StatusProcessed}, b.sink.statuses("slack:Ev9"))
	assert.Equal(t, int64(1), syncs.Load(), "one fsync for the job's records")
}

func TestAGitHubFormBodyWithoutItsPayloadFieldSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 3)
	id := b.enqueue(t, queue.NewDelivery{Provider: "github", Key: "github:1:form", EventType: "issues",
		ContentType: "application/x-www-form-urlencoded", Payload: []byte(`{"action":"opened"}`)})
	d := b.waitState(t, id, queue.StateDead)
	assert.Contains(t, d.LastError, "form body has no payload field")
}

// A delayed payment method completes its session unpaid, and its money
// comes later with checkout.session.async_payment_succeeded: the worker
// records both in the ledger, the first with nothing paid.
func TestADelayedCheckoutPaymentIsRecordedWhenItsMoneyArrives(t *testing.T) {
	t.Parallel()
	ledger := &fakeLedger{}
	b := setup(t, ledger, "sandbox", 3)
	session := func(id, typ, status string, created int) []byte {
		return []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":%d,"livemode":false,"data":{"object":`+
			`{"id":"cs_d","object":"checkout.session","amount_total":4200,"currency":"eur","customer":"cus_1","payment_status":%q}}}`,
			id, typ, created, status))
	}
	for _, ev := range []struct{ id, typ, status string }{
		{"evt_done", "checkout.session.completed", "unpaid"},
		{"evt_paid", "checkout.session.async_payment_succeeded", "paid"},
	} {
		id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:" + ev.id, EventType: ev.typ,
			Payload: session(ev.id, ev.typ, ev.status, 1700000000)})
		d := b.waitState(t, id, queue.StateProcessed)
		assert.Equal(t, audit.StatusProcessed, d.Outcome, ev.typ)
	}
	done, ok, _ := ledger.Get(context.Background(), "evt_done")
	require.True(t, ok)
	assert.Zero(t, done.Amount, "the unpaid session paid nothing")
	paid, ok, _ := ledger.Get(context.Background(), "evt_paid")
	require.True(t, ok, "async_payment_succeeded goes to the ledger")
	assert.EqualValues(t, 4200, paid.Amount)
}
