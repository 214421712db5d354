package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// Replay makes each delivery pending again and enqueues a job for it: one
// transaction per delivery, so one that cannot be replayed (still queued,
// unknown, a tombstone) does not hold back the others. A pending delivery
// is replayed only when no job will run it any more (its job gave up
// without recording an outcome). Each replay is audited "replayed" before it is committed; if
// that record cannot be written the delivery is not replayed, and if the
// commit then fails a "failed" record says so. progress, if set, is called
// after each one. It returns the ids replayed and the errors of the others,
// joined.
func (w *Worker) Replay(ctx context.Context, client *queue.Client, ids []int64, progress func(done, total int)) ([]int64, error) {
	var done []int64
	var errs []error
	for i, id := range ids {
		if err := w.replayOne(ctx, client, id); err != nil {
			errs = append(errs, err)
		} else {
			done = append(done, id)
		}
		if progress != nil {
			progress(i+1, len(ids))
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return done, errors.Join(errs...)
}

// ErrNeverAccepted is returned when replaying a tombstone.
var ErrNeverAccepted = errors.New("delivery was never accepted: its record was lost in a crash before it was answered, " +
	"so the provider's retry is stored as a new delivery")

// IsTombstone reports whether d is a tombstone: a row whose payload record a
// crash lost before the delivery was answered. The provider saw no 202 and
// retries; its retry is a delivery of its own. A tombstone has no payload,
// so running it again can only dead-letter it, and it is never replayed.
// (A replay leaves an outcome as it is, so it also marks a tombstone that
// an earlier version replayed into a dead letter.)
func IsTombstone(d queue.Delivery) bool { return d.Outcome == queue.OutcomeTorn }

func (w *Worker) replayOne(ctx context.Context, client *queue.Client, id int64) error {
	d, err := w.d.DB.Find(ctx, strconv.FormatInt(id, 10))
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if IsTombstone(d) {
		return fmt.Errorf("replay delivery %d: %w", id, ErrNeverAccepted)
	}
	if d.State == queue.StatePending {
		// Checked again, atomically, by Requeue; this spares the audit
		// log a record for a replay that is refused.
		queued, err := w.d.DB.Queued(ctx, id, 0)
		if err != nil {
			return fmt.Errorf("replay delivery %d: %w", id, err)
		}
		if queued {
			return fmt.Errorf("replay delivery %d: %w", id, queue.ErrPending)
		}
	}
	started := w.d.Now()
	rec := w.record(d, audit.StatusReplayed, "", 0, started, map[string]any{"previousState": d.State, "replays": d.Replays + 1})
	if err := w.auditWrite(ctx, []audit.Record{rec}); err != nil {
		return fmt.Errorf("replay delivery %d: audit: %w", id, err)
	}
	err = w.d.DB.TxDurable(ctx, func(tx *sql.Tx) error {
		if err := w.d.DB.Requeue(ctx, tx, d); err != nil {
			return err
		}
		if _, err := client.InsertTx(ctx, tx, queue.DeliveryArgs{ID: id, Replay: true, Life: queue.LifeOf(d) + 1}, w.deliveryOpts(time.Time{})); err != nil {
			return fmt.Errorf("replay delivery %d: enqueue: %w", id, err)
		}
		return nil
	})
	if err != nil {
		// The "replayed" record is written; this one says it did not
		// happen. It cannot be written first: a replay must not commit
		// unaudited.
		failed := w.record(d, audit.StatusFailed, "", d.Attempts, started, map[string]any{"replay": "not done", "previousState": d.State})
		failed.Error = w.d.Redactor.Error(err)
		if aerr := w.auditWrite(context.WithoutCancel(ctx), []audit.Record{failed}); aerr != nil {
			w.d.Log.Error("replay failed and its failure could not be audited", "delivery", id, "err", w.d.Redactor.Error(aerr))
		}
		return err
	}
	return nil
}

// WaitFinished polls until none of ids is pending any more, calling progress
// with how many are finished. It returns when all are, or when ctx ends.
func WaitFinished(ctx context.Context, db *queue.DB, ids []int64, poll time.Duration, progress func(done, total int)) error {
	for {
		n, err := db.CountFinished(ctx, ids)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(n, len(ids))
		}
		if n >= len(ids) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
