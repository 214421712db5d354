package worker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// attemptOutcome is one delivery's attempt, ready to be committed.
type attemptOutcome struct {
	d       queue.Delivery
	res     result
	err     error // nil: processed
	attempt int
	dead    bool
	// await: the payload reads torn and no receiver has recovered the
	// segments yet (queue.DB.AwaitsRecovery). Not an attempt: nothing is
	// recorded or audited, and the delivery's job looks again later.
	await bool
}

// run handles one delivery and returns the audit records of the attempt. A
// payload that could not be read is the attempt's failure; one that is
// damaged (queue.ErrTorn) is dead-lettered at once, since no retry reads it,
// unless no receiver has recovered the segments yet: a crash may then have
// torn its record before the delivery was answered, recovery will make it
// a tombstone and the provider's retry is stored anew, so it only awaits
// (o.await) and is neither dead-lettered nor run.
//
// Each record names the River job, its attempt and when that run began
// (details job, jobAttempts, jobRunAt): a run whose outcome could not be
// committed after its records were written (the worker killed there, the
// store failing) runs again and writes them again, with the same delivery
// attempts; the run tells the two apart in the log (found in review, in
// chaos runs). The start time is what always differs: River hands back the
// attempt of a run stopped by shutdown, so its rerun has the same number
// (also found in review).
func (w *Worker) run(ctx context.Context, d queue.Delivery, job *rivertype.JobRow) (attemptOutcome, []audit.Record) {
	o, recs := w.runOnce(ctx, d)
	for _, r := range recs {
		nameRun(r.Details, job)
	}
	return o, recs
}

// nameRun adds job's run to a record's details (see run).
func nameRun(details map[string]any, job *rivertype.JobRow) {
	details["job"], details["jobAttempts"] = job.ID, job.Attempt
	if job.AttemptedAt != nil {
		details["jobRunAt"] = job.AttemptedAt.UTC().Format(time.RFC3339Nano)
	}
}

func (w *Worker) runOnce(ctx context.Context, d queue.Delivery) (attemptOutcome, []audit.Record) {
	started := w.d.Now()
	o := attemptOutcome{d: d, attempt: d.Attempts + 1}
	switch {
	case errors.Is(d.PayloadErr, queue.ErrTorn):
		await, err := w.d.DB.AwaitsRecovery(ctx, d.ID)
		switch {
		case err != nil: // an ordinary failed attempt: it is looked at again
			o.err = fmt.Errorf("read payload: %w (%w)", d.PayloadErr, err)
		case await:
			w.d.Log.Warn("webhook payload torn and no receiver has recovered the payload segments yet; waiting for it",
				"delivery", d.ID, "key", d.Key, "err", w.d.Redactor.Error(d.PayloadErr))
			o.await = true
			return o, nil
		default:
			o.err = Permanent(fmt.Errorf("payload damaged or missing on disk, no retry can read it: %w", d.PayloadErr))
		}
	case d.PayloadErr != nil:
		o.err = fmt.Errorf("read payload: %w", d.PayloadErr)
	default:
		o.res, o.err = w.handleSafely(ctx, d)
	}
	if o.err == nil {
		return o, []audit.Record{w.record(d, o.res.status, o.res.target, o.attempt, started, o.res.details)}
	}
	o.dead = isPermanent(o.err) || o.attempt >= w.d.MaxAttempts
	failed := w.record(d, audit.StatusFailed, "", o.attempt, started, map[string]any{"maxAttempts": w.d.MaxAttempts})
	failed.Error = w.d.Redactor.Error(o.err)
	recs := []audit.Record{failed}
	if o.dead {
		dl := w.record(d, audit.StatusDeadLettered, "", o.attempt, started, nil)
		dl.Error = failed.Error
		recs = append(recs, dl)
	}
	return o, recs
}

// commit stores an attempt's outcome inside tx.
func (w *Worker) commit(ctx context.Context, tx *sql.Tx, o attemptOutcome) error {
	if o.err == nil {
		_, err := w.d.DB.MarkProcessed(ctx, tx, o.d.ID, o.res.status)
		return err
	}
	return w.d.DB.RecordFailure(ctx, tx, o.d.ID, w.d.Redactor.Error(o.err), o.dead)
}

// batchWorker runs the job of one group commit: its deliveries in order. A
// delivery that fails is split off into its own DeliveryArgs job, in the
// transaction that completes this one, so one bad delivery neither holds
// back nor repeats the others.
// handleSafely is handle with a panic turned into that delivery's failed
// attempt (retried, then dead-lettered like any failure), so a handler bug
// that one payload triggers does not take its whole batch down with it.
func (w *Worker) handleSafely(ctx context.Context, d queue.Delivery) (res result, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.d.Log.Error("webhook handler panicked", "delivery", d.ID, "key", d.Key, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			res, err = result{}, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return w.handle(ctx, d)
}

type batchWorker struct {
	river.WorkerDefaults[queue.BatchArgs]
	w *Worker
}

// NextRetry spaces the retries of a batch job, whose attempts fail only
// when the job could not run or record its deliveries (the audit log or the
// store failing): with the worker's backoff, not River's default, which
// waits days between the late attempts while deliveries answered 202 wait.
func (b *batchWorker) NextRetry(job *river.Job[queue.BatchArgs]) time.Time {
	return b.w.d.Now().Add(b.w.Backoff(job.Attempt))
}

func (b *batchWorker) Work(ctx context.Context, job *river.Job[queue.BatchArgs]) (err error) {
	if b.w.exhausted(ctx, job.JobRow, job.Args.IDs) {
		return nil
	}
	defer func() { err = b.w.settle(ctx, job.JobRow, job.Args.IDs, err, recover()) }()
	return b.w.runBatch(ctx, job)
}

func (w *Worker) runBatch(ctx context.Context, job *river.Job[queue.BatchArgs]) error {
	w.yield(ctx, len(job.Args.IDs))
	ds, err := w.d.DB.Load(ctx, job.Args.IDs)
	if err != nil {
		return err
	}
	var outs []attemptOutcome
	var recs []audit.Record
	var rest []int64 // not run: the job was stopped first
	for _, d := range ds {
		// Done before a crash; or replayed since (a batch job is of a
		// delivery's first life: the replay's own job runs it now, and
		// this one may be a job a stopped worker left, handed back by the
		// rescue after the replay).
		if d.State != queue.StatePending || d.Replays != 0 {
			continue
		}
		if ctx.Err() != nil {
			rest = append(rest, d.ID)
			continue
		}
		o, r := w.run(ctx, d, job.JobRow)
		if stopped(ctx) && (o.err != nil || o.await) {
			// It may have failed because the job was stopped: not an attempt.
			rest = append(rest, d.ID)
			continue
		}
		outs = append(outs, o)
		recs = append(recs, r...)
	}
	if err := ctx.Err(); err != nil && len(outs) == 0 {
		return fmt.Errorf("batch job %d stopped: %w", job.ID, err) // retried as a whole
	}
	// Once a handler has run, its delivery's step is finished even if the
	// job is stopped meanwhile (the drain deadline of a SIGTERM): its audit
	// records written and its outcome committed. Otherwise the job would
	// run it again, and a Stripe event the first run booked would be
	// audited only as a duplicate, by nobody (found in review), and a
	// GitHub or Slack event audited twice. What was not run goes to jobs of
	// its own. Both are short and local, and bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveUpTimeout)
	defer cancel()
	if err := w.auditWrite(ctx, recs); err != nil {
		return fmt.Errorf("audit batch job %d: %w", job.ID, err)
	}
	return w.d.DB.Tx(ctx, func(tx *sql.Tx) error {
		var retries []river.InsertManyParams
		for _, id := range rest {
			retries = append(retries, river.InsertManyParams{
				Args: queue.DeliveryArgs{ID: id, Life: 1}, InsertOpts: w.deliveryOpts(w.d.Now()),
			})
		}
		for _, o := range outs {
			if o.await {
				retries = append(retries, river.InsertManyParams{
					Args:       queue.DeliveryArgs{ID: o.d.ID, Life: queue.LifeOf(o.d)},
					InsertOpts: w.deliveryOpts(w.d.Now().Add(w.awaitDelay(0))),
				})
				continue
			}
			if err := w.commit(ctx, tx, o); err != nil {
				return err
			}
			if o.err != nil && !o.dead {
				retries = append(retries, river.InsertManyParams{
					Args:       queue.DeliveryArgs{ID: o.d.ID, Life: queue.LifeOf(o.d)},
					InsertOpts: w.deliveryOpts(w.d.Now().Add(w.Backoff(o.attempt))),
				})
			}
		}
		if len(retries) > 0 {
			client := river.ClientFromContext[*sql.Tx](ctx)
			if _, err := client.InsertManyTx(ctx, tx, retries); err != nil {
				return fmt.Errorf("enqueue retries: %w", err)
			}
		}
		_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
		return err
	})
}

// stopped reports whether the job's context was cancelled: the worker is
// stopping (a SIGTERM's drain), and a handler that failed meanwhile may
// have failed because of it, so its run is not an attempt. A context that
// ran out (River's job timeout) is no stop: the handler overran, a failed
// attempt like any other, audited and counted toward WEBHOOK_MAX_ATTEMPTS
// (found in review: it was neither, and the delivery was finally
// dead-lettered with no "failed" record on River's own count).
func stopped(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// deliveryOpts are the insert options of a single-delivery job. River's own
// attempt limit is above ours: the dead letter is decided here, from the
// delivery row, and the job is then cancelled. River's limit is reached
// first only when attempts fail before the delivery's is recorded; settle
// then dead-letters it.
func (w *Worker) deliveryOpts(at time.Time) *river.InsertOpts {
	return &river.InsertOpts{Queue: queue.QueueName, MaxAttempts: w.d.MaxAttempts + 1, ScheduledAt: at}
}

// deliveryWorker runs one delivery: a retry or a replay.
type deliveryWorker struct {
	river.WorkerDefaults[queue.DeliveryArgs]
	w *Worker
}

// NextRetry spaces this job's retries with the worker's backoff. The first
// attempt of a split-off delivery was made in its batch, hence the +1.
func (dw *deliveryWorker) NextRetry(job *river.Job[queue.DeliveryArgs]) time.Time {
	n := job.Attempt
	if !job.Args.Replay {
		n++
	}
	return dw.w.d.Now().Add(dw.w.Backoff(n))
}

func (dw *deliveryWorker) Work(ctx context.Context, job *river.Job[queue.DeliveryArgs]) (err error) {
	if dw.w.exhausted(ctx, job.JobRow, []int64{job.Args.ID}) {
		return nil
	}
	defer func() { err = dw.w.settle(ctx, job.JobRow, []int64{job.Args.ID}, err, recover()) }()
	return dw.w.runDelivery(ctx, job)
}

func (w *Worker) runDelivery(ctx context.Context, job *river.Job[queue.DeliveryArgs]) error {
	w.yield(ctx, 1)
	ds, err := w.d.DB.Load(ctx, []int64{job.Args.ID})
	if err != nil {
		return err
	}
	if len(ds) == 0 || ds[0].State != queue.StatePending {
		return nil // gone, done, or dead-lettered already: nothing to run
	}
	if job.Args.Life != 0 && job.Args.Life != queue.LifeOf(ds[0]) {
		return nil // a job of an earlier life (see queue.DeliveryArgs.Life): the replay's job runs it
	}
	o, recs := w.run(ctx, ds[0], job.JobRow)
	if stopped(ctx) && (o.err != nil || o.await) {
		return fmt.Errorf("delivery %d stopped: %w", o.d.ID, ctx.Err()) // not an attempt
	}
	if o.await {
		return river.JobSnooze(w.awaitDelay(snoozes(job.JobRow))) // not an attempt, for River either
	}
	// As in runBatch: a handler that has run has its step finished.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveUpTimeout)
	defer cancel()
	if err := w.auditWrite(ctx, recs); err != nil {
		return fmt.Errorf("audit delivery %d: %w", o.d.ID, err)
	}
	err = w.d.DB.Tx(ctx, func(tx *sql.Tx) error {
		if err := w.commit(ctx, tx, o); err != nil {
			return err
		}
		if o.err == nil {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
			return err
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case o.err == nil:
		return nil
	case o.dead:
		return river.JobCancel(fmt.Errorf("dead-lettered after %d attempts: %s", o.attempt, w.d.Redactor.Error(o.err)))
	}
	return errors.New(w.d.Redactor.Error(o.err)) // River keeps the text in river_job.errors
}

// awaitDelay is how long a delivery awaiting a receiver's recovery waits
// before its job looks again, after n such waits: the worker's
// backoff, and at least RetryBase so that it never spins. A receiver
// recovers as it starts, so the wait is short unless none is running.
func (w *Worker) awaitDelay(n int) time.Duration {
	return max(w.Backoff(n+1), w.d.RetryBase)
}

// snoozes is how many times River snoozed job (its metadata's count).
func snoozes(job *rivertype.JobRow) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &m) // unreadable: start the backoff over
	return m.Snoozes
}

// giveUpTimeout bounds the dead-lettering of a job's deliveries when the job
// gives up, which runs even when the job's own context has ended.
const giveUpTimeout = 30 * time.Second

// settle finishes a job's Work. A job whose context was cancelled (the
// worker stopping) returns an error that says so, which River does not
// count as an attempt. On the job's last River attempt, an error or a
// panic (re-raised for River) first dead-letters the job's deliveries that
// are still pending: River discards the job, and a delivery it leaves
// pending would never run again, nor show among the dead letters. An
// attempt fails before the delivery's own attempt is recorded when the
// payloads cannot be loaded, the audit log cannot be written, or the store
// cannot commit; those do not count toward WEBHOOK_MAX_ATTEMPTS.
func (w *Worker) settle(ctx context.Context, job *rivertype.JobRow, ids []int64, err error, panicked any) error {
	if panicked != nil {
		w.giveUpIfLast(ctx, job, ids, fmt.Errorf("job panicked: %v", panicked))
		panic(panicked)
	}
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		if !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w (job stopped: %w)", err, ctx.Err())
		}
		return err
	}
	var cancelled *rivertype.JobCancelError
	var snoozed *rivertype.JobSnoozeError
	if errors.As(err, &snoozed) { // awaiting recovery: not an attempt, nothing to give up
		return err
	}
	if !errors.As(err, &cancelled) { // cancelled: its delivery is dead already
		w.giveUpIfLast(ctx, job, ids, err)
	}
	return err
}

// exhausted dead-letters, without running them, the deliveries of a job
// fetched past its last attempt, and reports whether it was one. Only
// queue.DB.RescueOrphans hands such a job back: the worker running its last
// attempt was killed, as it may have been at every attempt (a payload that
// runs the process out of memory), so running it again would only kill the
// next worker (found in review: such a job was handed back at once, for
// ever).
func (w *Worker) exhausted(ctx context.Context, job *rivertype.JobRow, ids []int64) bool {
	if job.Attempt <= job.MaxAttempts {
		return false
	}
	last := *job
	last.Attempt = job.MaxAttempts
	w.giveUpIfLast(ctx, &last, ids, errors.New("the worker stopped (killed, or out of memory) while running its last attempt"))
	return true
}

// giveUpIfLast dead-letters, when job is on its last attempt, those of ids
// that are still pending and that no other job will run, audited
// "dead_lettered" with jobErr as the reason. It is best effort: when the
// audit log is what fails, the deliveries are dead-lettered all the same
// (last_error says the record is missing), as a dead letter is where an
// operator looks; when the store fails, they stay pending with no job, and
// a replay takes them.
func (w *Worker) giveUpIfLast(ctx context.Context, job *rivertype.JobRow, ids []int64, jobErr error) {
	if job.Attempt < job.MaxAttempts {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveUpTimeout)
	defer cancel()
	log := w.d.Log.With("job", job.ID, "deliveries", ids)
	ds, err := w.d.DB.Get(ctx, ids)
	if err != nil {
		log.Error("job gave up and its deliveries could not be dead-lettered; replay them", "err", w.d.Redactor.Error(err))
		return
	}
	why := fmt.Sprintf("dead-lettered: its job ran out of attempts (%d), some failing before the delivery's attempt was recorded; last: %s",
		job.Attempt, w.d.Redactor.Error(jobErr))
	// One pass over the live jobs, outside the write transaction; checked
	// again inside it. This keeps the audit log from saying "dead_lettered"
	// of a delivery another job will run.
	live, err := w.d.DB.LiveJobIDs(ctx, job.ID)
	if err != nil {
		log.Error("job gave up and its deliveries could not be dead-lettered; replay them", "err", w.d.Redactor.Error(err))
		return
	}
	var stranded []int64
	var recs []audit.Record
	for _, d := range ds {
		if d.State != queue.StatePending || live[d.ID] {
			continue
		}
		stranded = append(stranded, d.ID)
		details := map[string]any{}
		nameRun(details, job) // found in review: it named no run
		rec := w.record(d, audit.StatusDeadLettered, "", d.Attempts, w.d.Now(), details)
		rec.Error = why
		recs = append(recs, rec)
	}
	if len(stranded) == 0 {
		return
	}
	if err := w.auditWrite(ctx, recs); err != nil {
		log.Error("job gave up; its deliveries are dead-lettered without their audit record", "err", w.d.Redactor.Error(err))
		why += " (no dead_lettered audit record: " + w.d.Redactor.Error(err) + ")"
	}
	err = w.d.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := w.d.DB.DeadLetterStrandedIDs(ctx, tx, stranded, job.ID, why)
		return err
	})
	if err != nil {
		log.Error("job gave up and its deliveries could not be dead-lettered; replay them", "err", w.d.Redactor.Error(err))
	}
}
