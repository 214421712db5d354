package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

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
}

// run handles one delivery and returns the audit records of the attempt.
func (w *Worker) run(ctx context.Context, d queue.Delivery) (attemptOutcome, []audit.Record) {
	started := w.d.Now()
	o := attemptOutcome{d: d, attempt: d.Attempts + 1}
	o.res, o.err = w.handle(ctx, d)
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
type batchWorker struct {
	river.WorkerDefaults[queue.BatchArgs]
	w *Worker
}

func (b *batchWorker) Work(ctx context.Context, job *river.Job[queue.BatchArgs]) error {
	w := b.w
	w.yield(ctx)
	ds, err := w.d.DB.Load(ctx, job.Args.IDs)
	if err != nil {
		return err
	}
	var outs []attemptOutcome
	var recs []audit.Record
	for _, d := range ds {
		if d.State != queue.StatePending { // done before a crash, or replayed meanwhile
			continue
		}
		o, r := w.run(ctx, d)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("batch job %d stopped: %w", job.ID, err) // retried as a whole
		}
		outs = append(outs, o)
		recs = append(recs, r...)
	}
	if err := w.auditWrite(ctx, recs); err != nil {
		return fmt.Errorf("audit batch job %d: %w", job.ID, err)
	}
	return w.d.DB.Tx(ctx, func(tx *sql.Tx) error {
		var retries []river.InsertManyParams
		for _, o := range outs {
			if err := w.commit(ctx, tx, o); err != nil {
				return err
			}
			if o.err != nil && !o.dead {
				retries = append(retries, river.InsertManyParams{
					Args:       queue.DeliveryArgs{ID: o.d.ID},
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

// deliveryOpts are the insert options of a single-delivery job. River's own
// attempt limit is above ours: the dead letter is decided here, from the
// delivery row, and the job is then cancelled.
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

func (dw *deliveryWorker) Work(ctx context.Context, job *river.Job[queue.DeliveryArgs]) error {
	w := dw.w
	w.yield(ctx)
	ds, err := w.d.DB.Load(ctx, []int64{job.Args.ID})
	if err != nil {
		return err
	}
	if len(ds) == 0 || ds[0].State != queue.StatePending {
		return nil // gone, done, or dead-lettered already: nothing to run
	}
	o, recs := w.run(ctx, ds[0])
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delivery %d stopped: %w", o.d.ID, err)
	}
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
