package worker

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// stoppedBundle is a database, an intake that inserts no jobs, and a River
// client with the worker registered but not started: the test inserts the
// jobs it wants and then starts the client.
type stoppedBundle struct {
	*testBundle
	path string
}

func setupStopped(t *testing.T, maxAttempts int) *stoppedBundle {
	t.Helper()
	return setupStoppedAt(t, filepath.Join(t.TempDir(), queue.FileName), maxAttempts)
}

// setupStoppedAt is setupStopped on the queue at path, which may hold
// deliveries already (the intake recovers what a crash left there).
func setupStoppedAt(t *testing.T, path string, maxAttempts int) *stoppedBundle {
	t.Helper()
	ctx := context.Background()
	db, err := queue.Open(ctx, path, queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	sink := &memSink{}
	ledger := &fakeLedger{events: map[string]payments.Event{}}
	wk := New(Deps{DB: db, Audit: sink, Ledger: ledger, Env: "sandbox",
		MaxAttempts: maxAttempts, RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	ws := river.NewWorkers()
	wk.Register(ws)
	client, err := db.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 2, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil }})
	require.NoError(t, err)
	t.Cleanup(func() {
		in.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx) // not started in every test
		require.NoError(t, db.Close())
	})
	return &stoppedBundle{testBundle: &testBundle{db: db, wk: wk, client: client, intake: in, sink: sink, ledger: ledger}, path: path}
}

// flipByte damages the payload holding marker in the segment files: damage
// after the sync (bit rot, a bad sector), which recovery counts as Corrupt.
func (b *stoppedBundle) flipByte(t *testing.T, _ int64, marker []byte) {
	t.Helper()
	segs, err := filepath.Glob(b.path + ".payloads/*.seg")
	require.NoError(t, err)
	for _, p := range segs {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		if i := bytes.Index(data, marker); i >= 0 {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte{data[i] ^ 0xff}, int64(i))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			return
		}
	}
	t.Fatalf("marker %q not found in any segment", marker)
}

// loseSegment points the delivery's row at a segment file that does not
// exist, as after a segment was deleted while a row still pointed into it.
func (b *stoppedBundle) loseSegment(t *testing.T, id int64, _ []byte) {
	t.Helper()
	require.NoError(t, b.db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE webhook_delivery SET seg = seg + 1000 WHERE id = ?`, id)
		return err
	}))
}

func (b *testBundle) find(t *testing.T, id int64) queue.Delivery {
	t.Helper()
	d, err := b.db.Find(context.Background(), strconv.FormatInt(id, 10))
	require.NoError(t, err)
	return d
}

// records returns the audit records of one delivery key.
func (m *memSink) records(key string) []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Record
	for _, r := range m.recs {
		if r.IdempotencyKey == key {
			out = append(out, r)
		}
	}
	return out
}

// waitJobFinished waits until River is done with the job and returns it.
func waitJobFinished(t *testing.T, client *queue.Client, id int64) *rivertype.JobRow {
	t.Helper()
	var j *rivertype.JobRow
	require.Eventually(t, func() bool {
		var err error
		j, err = client.JobGet(context.Background(), id)
		if err != nil { // not require: this runs on testify's goroutine
			return false
		}
		switch j.State {
		case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
			return true
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "job %d never finished", id)
	return j
}

// A payload that cannot be read (its bytes fail their CRC, or its segment
// file is gone) is damage no retry mends: its delivery is dead-lettered on
// the first attempt, where `webhooks dead` shows it, with the reason in
// last_error and in the audit trail, and the other deliveries of its batch
// (answered 202 with it) are processed as if nothing happened.
func TestADamagedPayloadIsDeadLetteredAtOnceAndTheRestOfItsBatchRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// batch: the job is the BatchArgs job of the bad delivery and a good
		// one; otherwise a DeliveryArgs job (a retry) of the bad one alone.
		batch   bool
		damage  func(b *stoppedBundle, t *testing.T, id int64, marker []byte)
		jobEnds rivertype.JobState
	}{
		{"a payload failing its CRC in a batch job", true, (*stoppedBundle).flipByte, rivertype.JobStateCompleted},
		{"a payload failing its CRC in a retry job", false, (*stoppedBundle).flipByte, rivertype.JobStateCancelled},
		{"a payload whose segment file is gone, in a batch job", true, (*stoppedBundle).loseSegment, rivertype.JobStateCompleted},
		{"a payload whose segment file is gone, in a retry job", false, (*stoppedBundle).loseSegment, rivertype.JobStateCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setupStopped(t, 3)
			bad, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: "github:1:bad", EventType: "issues",
				Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/BADBADBAD"}}`)})
			require.NoError(t, err)
			good, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: "github:1:good", EventType: "issues",
				Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/good"}}`)})
			require.NoError(t, err)
			tt.damage(b, t, bad.ID, []byte("BADBADBAD"))

			var args river.JobArgs = queue.DeliveryArgs{ID: bad.ID}
			if tt.batch {
				args = queue.BatchArgs{IDs: []int64{bad.ID, good.ID}} // what one group commit of the two got
			}
			res, err := b.client.Insert(ctx, args, &river.InsertOpts{Queue: queue.QueueName, MaxAttempts: 25})
			require.NoError(t, err)
			require.NoError(t, b.client.Start(ctx))
			j := waitJobFinished(t, b.client, res.Job.ID)
			assert.Equal(t, tt.jobEnds, j.State)
			assert.Equal(t, 1, j.Attempt, "the job is not retried")

			d := b.find(t, bad.ID)
			assert.Equal(t, queue.StateDead, d.State)
			assert.Equal(t, 1, d.Attempts)
			assert.Contains(t, d.LastError, "payload damaged or missing")
			dead, err := b.db.List(ctx, queue.StateDead, 0)
			require.NoError(t, err)
			require.Len(t, dead, 1, "listed by `webhooks dead`")
			recs := b.sink.records("github:1:bad")
			require.Len(t, recs, 2)
			assert.Equal(t, audit.StatusFailed, recs[0].Status)
			assert.Equal(t, audit.StatusDeadLettered, recs[1].Status)
			assert.Contains(t, recs[1].Error, "payload damaged or missing", "the dead letter says why")
			if tt.batch {
				assert.Equal(t, queue.StateProcessed, b.find(t, good.ID).State)
				assert.Equal(t, []string{audit.StatusProcessed}, b.sink.statuses("github:1:good"))
			}
		})
	}
}

// flakySink fails every write while down is set.
type flakySink struct {
	*memSink
	down atomic.Bool
}

func (f *flakySink) Write(ctx context.Context, r audit.Record) error {
	if f.down.Load() {
		return errors.New("audit log: no space left on device")
	}
	return f.memSink.Write(ctx, r)
}

// A job whose attempts fail before the delivery's own attempt is recorded
// (here the audit log is unwritable) is discarded by River once its
// attempts run out. Its deliveries must not stay "pending" with no job
// left to run them: they are dead-lettered on the job's last attempt, the
// reason in last_error, and once the outage is over a replay processes
// them.
func TestADeliveryWhoseJobRunsOutOfAttemptsIsDeadLetteredNotStranded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// split: the first attempt, in the batch job, fails and is recorded;
		// the outage then hits the split-off retry job. Otherwise the audit
		// log is down from the start and the batch job itself runs out.
		split   bool
		jobKind string
		// want is the audit trail by the end: the dead_lettered record could
		// not be written, the audit log being what failed.
		want []string
	}{
		{"a retry job failing to audit until River discards it", true, queue.DeliveryArgs{}.Kind(),
			[]string{audit.StatusFailed, audit.StatusReplayed, audit.StatusProcessed}},
		{"a batch job failing to audit until River discards it", false, queue.BatchArgs{}.Kind(),
			[]string{audit.StatusReplayed, audit.StatusProcessed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ledger := &fakeLedger{}
			if tt.split {
				ledger.failures = 1
			}
			b := setup(t, ledger, "sandbox", 3)
			fs := &flakySink{memSink: b.sink}
			b.wk.d.Audit = fs
			fs.down.Store(!tt.split)
			key := "stripe:evt_outage"
			id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
				Payload: stripeEvent("evt_outage", false)})
			if tt.split {
				require.Eventually(t, func() bool { return len(fs.statuses(key)) == 1 }, 10*time.Second, time.Millisecond)
				fs.down.Store(true)
			}
			var jobs *river.JobListResult
			require.Eventually(t, func() bool {
				var err error
				jobs, err = b.client.JobList(ctx, river.NewJobListParams().Kinds(tt.jobKind).States(rivertype.JobStateDiscarded))
				return err == nil && len(jobs.Jobs) == 1 // not require: this runs on testify's goroutine
			}, 20*time.Second, 5*time.Millisecond, "the job was never discarded")
			d := b.find(t, id)
			require.Equal(t, queue.StateDead, d.State, "dead-lettered before River discarded its job")
			assert.Contains(t, d.LastError, "ran out of attempts")
			assert.Contains(t, d.LastError, "no space left on device", "with the reason")
			assert.Contains(t, d.LastError, "no dead_lettered audit record", "and that the record is missing")
			fs.down.Store(false) // the outage is over

			replayed, err := b.wk.Replay(ctx, b.client, []int64{id}, nil)
			require.NoError(t, err)
			require.Equal(t, []int64{id}, replayed)
			b.waitState(t, id, queue.StateProcessed)
			assert.Equal(t, tt.want, fs.statuses(key))
		})
	}
}

// panickyLedger panics on every Record.
type panickyLedger struct{ fakeLedger }

func (*panickyLedger) Record(context.Context, payments.Event) (payments.Outcome, error) {
	panic("ledger bug")
}

// A handler that panics on every attempt fails that delivery's attempts like
// an error would: it is retried, then dead-lettered with the panic as its
// reason, and a delivery of another provider in the same batch is handled.
func TestADeliveryWhoseHandlerPanicsIsRetriedThenDeadLetteredAlone(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 3)
	b.wk.d.Ledger = &panickyLedger{}
	// One batch job for both deliveries: the first delivery's commit inserts
	// no job, the second's inserts one naming both.
	b.intake.Close()
	var held []int64
	insert := queue.RiverInserter(b.client, 5)
	in, err := queue.NewIntake(context.Background(), b.db, queue.IntakeOptions{Jobs: func(ctx context.Context, tx *sql.Tx, ids []int64) error {
		held = append(held, ids...)
		if len(held) < 2 {
			return nil
		}
		return insert(ctx, tx, held)
	}})
	require.NoError(t, err)
	t.Cleanup(in.Close)
	b.intake = in
	key := "stripe:evt_panic"
	ids := []int64{
		b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
			Payload: stripeEvent("evt_panic", false)}),
		b.enqueue(t, queue.NewDelivery{Provider: "github", Key: "github:1:ok", EventType: "issues", Target: "acme/widgets",
			Payload: []byte(`{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme/widgets"}}`)}),
	}
	d := b.waitState(t, ids[0], queue.StateDead)
	assert.Contains(t, d.LastError, "handler panicked: ledger bug")
	assert.Equal(t, 3, d.Attempts, "each panic was one attempt")
	b.waitState(t, ids[1], queue.StateProcessed)
	assert.Equal(t, []string{audit.StatusFailed, audit.StatusFailed, audit.StatusFailed, audit.StatusDeadLettered},
		b.sink.statuses(key))
}

// settle decides, when a job's Work returns, whether the job gives up on
// its deliveries: only on its last River attempt, only when it failed, and
// not when it was stopped (River then runs it again without counting the
// attempt) nor when it cancelled itself (its delivery is dead already).
func TestAJobGivesUpOnItsDeliveriesOnlyWhenItFailsItsLastAttempt(t *testing.T) {
	t.Parallel()
	stopped, stop := context.WithCancel(context.Background())
	stop()
	tests := []struct {
		name         string
		ctx          context.Context
		attempt, max int
		err          error
		wantState    string
		wantCanceled bool // the error tells River the job was stopped
	}{
		{"a failure on the last attempt dead-letters the pending delivery", context.Background(), 3, 3,
			errors.New("audit: disk full"), queue.StateDead, false},
		{"a failure before the last attempt leaves it for the next attempt", context.Background(), 2, 3,
			errors.New("audit: disk full"), queue.StatePending, false},
		{"a success on the last attempt leaves it alone", context.Background(), 3, 3, nil, queue.StatePending, false},
		{"a job stopped on its last attempt is put back, not given up", stopped, 3, 3,
			errors.New("load deliveries: interrupted"), queue.StatePending, true},
		{"a job that cancels itself leaves its delivery alone", context.Background(), 3, 3,
			river.JobCancel(errors.New("dead-lettered after 3 attempts")), queue.StatePending, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupStopped(t, 3)
			res, err := b.intake.Enqueue(context.Background(), queue.NewDelivery{Provider: "slack", Key: "slack:Ev1",
				EventType: "event_callback", Payload: []byte(`{}`)})
			require.NoError(t, err)
			job := &rivertype.JobRow{ID: 1, Attempt: tt.attempt, MaxAttempts: tt.max}
			err = b.wk.settle(tt.ctx, job, []int64{res.ID}, tt.err, nil)
			require.ErrorIs(t, err, tt.err, "the job's error goes on to River")
			assert.Equal(t, tt.wantCanceled, errors.Is(err, context.Canceled))
			assert.Equal(t, tt.wantState, b.find(t, res.ID).State)
		})
	}
}

// A delivery that another job will still run is not the failing job's to
// dead-letter: the other job decides its outcome.
func TestAJobDoesNotDeadLetterADeliveryAnotherJobWillRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupStopped(t, 3)
	res, err := b.intake.Enqueue(ctx, queue.NewDelivery{Provider: "slack", Key: "slack:Ev1", EventType: "event_callback", Payload: []byte(`{}`)})
	require.NoError(t, err)
	_, err = b.client.Insert(ctx, queue.DeliveryArgs{ID: res.ID}, &river.InsertOpts{Queue: queue.QueueName})
	require.NoError(t, err)
	job := &rivertype.JobRow{ID: 1 << 40, Attempt: 3, MaxAttempts: 3}
	require.Error(t, b.wk.settle(ctx, job, []int64{res.ID}, errors.New("audit: disk full"), nil))
	assert.Equal(t, queue.StatePending, b.find(t, res.ID).State)
	assert.Empty(t, b.sink.statuses("slack:Ev1"), "nor is it audited as dead-lettered")
}

// A batch job's attempts fail only when the job cannot run or record its
// deliveries; it retries on the worker's capped backoff, not River's
// default (attempt^4 seconds, days apart by the late attempts) while
// deliveries answered 202 wait in it.
func TestABatchJobRetriesOnTheWorkersBackoff(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w := New(Deps{RetryBase: time.Second, RetryCap: 10 * time.Minute, Now: func() time.Time { return now },
		Rand: func() float64 { return 0.999999 }})
	bw := &batchWorker{w: w}
	for _, tt := range []struct {
		attempt int
		want    time.Duration
	}{{1, time.Second}, {4, 8 * time.Second}, {20, 10 * time.Minute}} {
		got := bw.NextRetry(&river.Job[queue.BatchArgs]{JobRow: &rivertype.JobRow{Attempt: tt.attempt}})
		assert.InDelta(t, float64(tt.want), float64(got.Sub(now)), float64(time.Millisecond), "after attempt %d", tt.attempt)
	}
}

// A power cut can leave a delivery's row and job committed while its
// payload record, never synced, is torn: the provider was never answered
// and retries. A `saas-mcp worker` that runs the job before any receiver
// has recovered the segments (it starts first, or beside a receiver still
// recovering) must neither dead-letter it nor process it: the job waits,
// unaudited, for the receiver's recovery, which makes the row a tombstone;
// the job then ends without a record, and the provider's retry, stored
// anew, is processed exactly once.
func TestATornPayloadWaitsForTheReceiversRecoveryInsteadOfBeingDeadLettered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), queue.FileName)
	const key = "github:1:torn"
	torn := loseInPowerCut(t, path, key)

	// The worker process starts first: no receiver holds the segments.
	wdb, err := queue.Open(ctx, path, queue.Options{})
	require.NoError(t, err)
	sink := &memSink{}
	wk := New(Deps{DB: wdb, Audit: sink, Ledger: &fakeLedger{events: map[string]payments.Event{}}, Env: "sandbox",
		MaxAttempts: 2, RetryBase: time.Millisecond, RetryCap: 5 * time.Millisecond})
	ws := river.NewWorkers()
	wk.Register(ws)
	client, err := wdb.NewRiver(queue.RiverConfig{Workers: ws, MaxWorkers: 2, FetchPollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(sctx))
		require.NoError(t, wdb.Close())
	})
	batch, err := client.Insert(ctx, queue.BatchArgs{IDs: []int64{torn}}, &river.InsertOpts{Queue: queue.QueueName})
	require.NoError(t, err) // the job the power cut left with the row
	require.NoError(t, client.Start(ctx))
	waitJobFinished(t, client, batch.Job.ID)
	// The delivery went to a job of its own, which looks again and again
	// (River snoozes it) without spending an attempt: MaxAttempts is 2.
	require.Eventually(t, func() bool {
		res, err := client.JobList(ctx, river.NewJobListParams().Kinds(queue.DeliveryArgs{}.Kind()))
		if err != nil || len(res.Jobs) != 1 {
			return false
		}
		var m struct {
			Snoozes int `json:"snoozes"`
		}
		return json.Unmarshal(res.Jobs[0].Metadata, &m) == nil && m.Snoozes >= 3 && res.Jobs[0].Attempt <= 1
	}, 20*time.Second, 5*time.Millisecond, "the delivery's job never waited for the recovery")
	b := &testBundle{db: wdb, sink: sink}
	d := b.find(t, torn)
	assert.Equal(t, queue.StatePending, d.State, "neither dead-lettered nor processed: %s", d.LastError)
	assert.Zero(t, d.Attempts, "waiting is not an attempt")
	assert.Empty(t, sink.records(key), "nothing to audit yet")
	queued, err := wdb.Queued(ctx, torn, 0)
	require.NoError(t, err)
	assert.True(t, queued, "a job still waits for it, so `webhooks dead` does not list it as stranded")

	// The receiver starts (another process) and recovers: a tombstone.
	rdb, err := queue.Open(ctx, path, queue.Options{})
	require.NoError(t, err)
	inserter, err := rdb.NewRiver(queue.RiverConfig{})
	require.NoError(t, err)
	in, err := queue.NewIntake(ctx, rdb, queue.IntakeOptions{Jobs: queue.RiverInserter(inserter, 5)})
	require.NoError(t, err)
	t.Cleanup(func() {
		in.Close()
		require.NoError(t, rdb.Close())
	})
	require.Equal(t, 1, in.Recovered().Tombstoned)
	require.Eventually(t, func() bool {
		q, err := wdb.Queued(ctx, torn, 0)
		return err == nil && !q
	}, 10*time.Second, 5*time.Millisecond, "the waiting job ends once the row is a tombstone")
	assert.True(t, IsTombstone(b.find(t, torn)))
	assert.Empty(t, sink.records(key), "the tombstone's job audits nothing")

	// The provider's retry is a new delivery, processed once.
	res, err := in.Enqueue(ctx, queue.NewDelivery{Provider: "github", Key: key, EventType: "issues",
		Payload: []byte(`{"action":"opened","repository":{"full_name":"acme/lost"}}`)})
	require.NoError(t, err)
	require.False(t, res.Duplicate, "the retry is stored, not answered as a duplicate")
	b.waitState(t, res.ID, queue.StateProcessed)
	assert.Equal(t, []string{audit.StatusProcessed}, sink.statuses(key))
	assert.Equal(t, 1, b.find(t, res.ID).ProcessedCount)
}
