package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// Replay makes each delivery pending again and enqueues a job for it: one
// transaction per delivery, so one that cannot be replayed (still pending,
// unknown) does not hold back the others. Each replay is audited "replayed"
// before it is committed; if that record cannot be written the delivery is
// not replayed. progress, if set, is called after each one. It returns the
// ids replayed and the errors of the others, joined.
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

func (w *Worker) replayOne(ctx context.Context, client *queue.Client, id int64) error {
	ds, err := w.d.DB.Load(ctx, []int64{id})
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return fmt.Errorf("replay delivery %d: %w", id, queue.ErrNotFound)
	}
	d := ds[0]
	if d.State == queue.StatePending {
		return fmt.Errorf("replay delivery %d: %w", id, queue.ErrPending)
	}
	rec := w.record(d, audit.StatusReplayed, "", 0, w.d.Now(), map[string]any{"previousState": d.State, "replays": d.Replays + 1})
	if err := w.auditWrite(ctx, []audit.Record{rec}); err != nil {
		return fmt.Errorf("replay delivery %d: audit: %w", id, err)
	}
	return w.d.DB.TxDurable(ctx, func(tx *sql.Tx) error {
		if err := w.d.DB.Requeue(ctx, tx, id); err != nil {
			return err
		}
		if _, err := client.InsertTx(ctx, tx, queue.DeliveryArgs{ID: id, Replay: true}, w.deliveryOpts(time.Time{})); err != nil {
			return fmt.Errorf("replay delivery %d: enqueue: %w", id, err)
		}
		return nil
	})
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
