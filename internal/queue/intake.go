package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("webhook intake is closed")

// ErrCommittedUnconfirmed wraps an Enqueue error that came after the
// delivery's row and job were committed (its record's sync, or its receipt,
// failed): it may be processed, and a retry is then answered as a duplicate.
var ErrCommittedUnconfirmed = errors.New("committed, but not confirmed durable and audited")

// Enqueued is the answer to one Enqueue.
type Enqueued struct {
	ID        int64 // the delivery's row id
	Duplicate bool  // the key was stored before: nothing new was enqueued
}

// JobInserter inserts, inside tx, the job(s) for newly stored deliveries.
// RiverInserter is the real one.
type JobInserter func(ctx context.Context, tx *sql.Tx, ids []int64) error

// IntakeOptions tunes an Intake.
type IntakeOptions struct {
	// Jobs inserts the jobs of each batch in its transaction. Required.
	Jobs JobInserter
	// MaxBatch caps the deliveries of one transaction. Default 256.
	MaxBatch int
	// MaxBatchBytes caps the payload bytes of one transaction, so that a few
	// 25 MiB GitHub payloads do not make one huge commit. Default 32 MiB.
	MaxBatchBytes int
	// Receipts, if set, is given the deliveries of committed batches before
	// anyone in them is answered; its error becomes each one's error.
	// NewIntake also gives it, before they commit, the deliveries recovery
	// makes tombstones (Torn set). The
	// receiver audits receipts here. It runs beside the segment's sync and
	// beside the writing of the next batch, so it should not wait for a
	// disk of its own: the receiver appends the records and lets the audit
	// log sync them shortly after (a delivery is kept by its segment
	// record; recovery audits again what it rebuilds from there). NewIntake
	// also gives it, before they commit, the deliveries recovery rebuilds
	// (Recovered set); an error then fails NewIntake.
	Receipts func(ctx context.Context, receipts []Receipt) error
}

// Receipt is one committed delivery, for Receipts. Payload is not kept.
type Receipt struct {
	Delivery NewDelivery
	Bytes    int
	Enqueued
	// Recovered: rebuilt at start-up from its segment record, its SQLite
	// commit having been lost (see recover.go).
	Recovered bool
	// Torn: made a tombstone at start-up, its record having been lost in a
	// crash before the delivery was answered; its key is freed, and the
	// provider's retry is stored as a new delivery (see recover.go).
	Torn bool
}

// Intake stores deliveries with group commit, in two stages: a writer
// goroutine appends each batch's records to the payload segment and commits
// its rows and jobs in one transaction, putting everyone waiting when it
// starts into it; a sync goroutine then fdatasyncs the segment (one sync
// for every batch committed meanwhile) while the writer already fills the
// next batch.
type Intake struct {
	db        *DB
	opts      IntakeOptions
	reqs      chan *intakeReq
	synced    chan committed // committed batches waiting for the segment's sync
	done      chan struct{}
	lock      *os.File // flock held while this Intake is the segments' only writer
	recovered Recovery

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool

	batches, items atomic.Int64
	inflight       atomic.Int64 // deliveries handed to the writer and not yet answered

	// lastErr is the error of the last batch refused, nil once one is
	// answered as stored again; Healthy reports it for unhealthyFor.
	hmu       sync.Mutex
	lastErr   error
	lastErrAt time.Time
	clock     func() time.Time // time.Now; tests set it

	syncBusy atomic.Bool   // syncLoop is syncing a group
	syncIdle chan struct{} // signalled (buffer 1) when syncLoop finishes a group
	lockOnce sync.Once
}

type intakeReq struct {
	d    NewDelivery
	res  Enqueued
	err  error
	done chan struct{}
}

// NewIntake makes this process the only writer of db's payload segments
// (an flock; a second Intake on the same files fails), mends what a crash
// left (recover.go), and starts the writer goroutines. Close stops them.
func NewIntake(ctx context.Context, db *DB, opts IntakeOptions) (*Intake, error) {
	if opts.Jobs == nil {
		return nil, errors.New("webhook intake: IntakeOptions.Jobs is required")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 32 << 20
	}
	lock, err := db.segs.lock()
	if err != nil {
		return nil, fmt.Errorf("webhook intake: %w", err)
	}
	in := &Intake{db: db, opts: opts, reqs: make(chan *intakeReq, 4*opts.MaxBatch), lock: lock,
		synced: make(chan committed), done: make(chan struct{}), syncIdle: make(chan struct{}, 1), clock: time.Now}
	if in.recovered, err = in.recover(ctx); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("webhook intake: %w", err)
	}
	go in.loop()
	go in.syncLoop()
	return in, nil
}

// Recovered reports what NewIntake mended.
func (in *Intake) Recovered() Recovery { return in.recovered }

// Enqueue stores d and its job, or finds that d.Key was stored before. It
// returns once d's segment record is on disk (Options.Synchronous FULL),
// the transaction holding its row and job has committed and Receipts has
// run. If ctx ends first the delivery may still be stored: a retry by the
// provider then finds it as a duplicate.
func (in *Intake) Enqueue(ctx context.Context, d NewDelivery) (Enqueued, error) {
	if n := headerSize(&d); n > maxRecordHeader {
		return Enqueued{}, fmt.Errorf("%w: %d bytes, at most %d", ErrFieldsTooLong, n, maxRecordHeader)
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = in.db.now()
	}
	r := &intakeReq{d: d, done: make(chan struct{})}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return Enqueued{}, ErrClosed
	}
	in.inflight.Add(1) // before the hand-over: the writer may answer at once
	select {
	case in.reqs <- r:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.inflight.Add(-1)
		in.mu.RUnlock()
		in.noteTimedOut(ctx)
		return Enqueued{}, ctx.Err()
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		in.noteTimedOut(ctx)
		return Enqueued{}, ctx.Err()
	}
}

// noteTimedOut makes a delivery whose storing outlasted its deadline count
// as refused for Healthy: a writer stuck on the disk refuses every
// delivery by timeout, and /readyz must say so.
func (in *Intake) noteTimedOut(ctx context.Context) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		in.noteRefused(errors.New("storing a delivery did not finish before its deadline"))
	}
}

// Close stops accepting deliveries, commits those already handed over and
// returns when the writer is done.
func (in *Intake) Close() {
	in.mu.Lock()
	if !in.closed {
		in.closed = true
		close(in.reqs)
	}
	in.mu.Unlock()
	<-in.done
	in.lockOnce.Do(func() { _ = in.lock.Close() })
}

// unhealthyFor is how long a batch the writer could not store makes
// Healthy report it, unless a later batch is stored.
const unhealthyFor = 10 * time.Second

// Healthy reports the error of the last batch refused (the writer could
// not store it: a full disk, SQLite failing; or its sync or receipts
// failed), if no batch was answered as stored since and it is recent
// (unhealthyFor): the receiver's /readyz then answers 503, as
// deliveries are being refused. A failed segment sync is reported by
// DB.Ping, for good.
func (in *Intake) Healthy() error {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	if in.lastErr != nil && in.clock().Sub(in.lastErrAt) < unhealthyFor {
		return in.lastErr
	}
	return nil
}

// noteRefused notes a batch refused, by the writer or the sync stage.
func (in *Intake) noteRefused(err error) {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	in.lastErr, in.lastErrAt = err, in.clock()
}

// noteStored notes batches answered as stored (synced and audited).
func (in *Intake) noteStored() {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	in.lastErr = nil
}

// Busy reports whether deliveries are being taken in right now: some are
// handed over and not yet answered. The worker defers to it.
func (in *Intake) Busy() bool { return in.inflight.Load() > 0 }

// Stats returns the number of transactions and deliveries committed so far;
// their ratio is the mean batch size.
func (in *Intake) Stats() (batches, items int64) { return in.batches.Load(), in.items.Load() }

// committed is a batch whose transaction committed but is not yet synced.
type committed struct {
	reqs []*intakeReq
}

// loop is the writer: it owns the write transaction. A committed batch goes
// to syncLoop, and the next batch is written while that one syncs.
func (in *Intake) loop() {
	defer close(in.synced)
	for r := range in.reqs {
		batch := make([]*intakeReq, 1, 32)
		batch[0] = r
		size := len(r.d.Payload)
	fill:
		for len(batch) < in.opts.MaxBatch && size < in.opts.MaxBatchBytes {
			select {
			case r2, ok := <-in.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r2)
				size += len(r2.d.Payload)
				continue
			default:
			}
			if !in.syncBusy.Load() {
				break fill
			}
			// The sync stage is busy: whoever arrives before it is free
			// joins this batch, so there are fewer, larger commits.
			select {
			case r2, ok := <-in.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r2)
				size += len(r2.d.Payload)
			case <-in.syncIdle:
			}
		}
		err := in.commit(context.Background(), batch)
		in.batches.Add(1)
		in.items.Add(int64(len(batch)))
		if err != nil {
			in.noteRefused(err)
			in.release(batch, err)
			continue
		}
		in.synced <- committed{reqs: batch}
	}
}

// syncLoop makes committed batches durable: one fdatasync of the segment
// for every batch committed before it started, the group's receipts beside
// it, then the answers. A batch is answered only after a sync that began
// after its records were written, so a duplicate is never answered before
// its original's record is on disk.
func (in *Intake) syncLoop() {
	defer close(in.done)
	for first := range in.synced {
		in.syncBusy.Store(true)
		group := []committed{first}
	more:
		for {
			select {
			case c, ok := <-in.synced:
				if !ok {
					break more
				}
				group = append(group, c)
			default:
				break more
			}
		}
		audited := make(chan error, 1)
		if in.opts.Receipts != nil {
			go func() { audited <- in.opts.Receipts(context.Background(), receipts(group)) }()
		} else {
			audited <- nil
		}
		err := in.db.SyncPayloads()
		if err != nil {
			err = fmt.Errorf("store deliveries: %w", err)
		}
		if aerr := <-audited; err == nil {
			err = aerr
		}
		if err != nil {
			// The rows and jobs are committed already: say so, so that
			// the refusal is not taken for "not stored".
			err = fmt.Errorf("%w: %w", ErrCommittedUnconfirmed, err)
		}
		in.syncBusy.Store(false)
		select {
		case in.syncIdle <- struct{}{}:
		default:
		}
		if err != nil {
			in.noteRefused(err)
		} else {
			in.noteStored()
		}
		for _, c := range group {
			in.release(c.reqs, err)
		}
	}
}

func (in *Intake) release(batch []*intakeReq, err error) {
	in.inflight.Add(-int64(len(batch)))
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// commit writes one batch: its records to the segment, then the rows
// (duplicates skipped by the key's unique index), the jobs of the new ones
// and the segment mark, in one transaction. The connection runs
// synchronous=NORMAL and the WAL is not synced here: the segment record is
// what keeps an answered delivery (recover.go).
func (in *Intake) commit(ctx context.Context, batch []*intakeReq) error {
	ds := make([]*NewDelivery, len(batch))
	for i, r := range batch {
		ds[i] = &r.d
	}
	// The records go to the segment first: a row never points at bytes
	// not yet written. A duplicate's record is written too and left unused.
	app, err := in.db.segs.append(ds)
	if err != nil {
		return fmt.Errorf("store deliveries: %w", err)
	}
	if err := in.store(ctx, batch, app.refs, app.mark, nil); err != nil {
		if uerr := in.db.segs.unappend(app.mark); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return err
	}
	return nil
}

// store inserts the rows of batch (payloads at refs), the jobs of the new
// ones and mark, and commits; beforeCommit, if set, runs just before the
// commit, with the results filled in.
func (in *Intake) store(ctx context.Context, batch []*intakeReq, refs []payloadRef, mark segMark, beforeCommit func() error) error {
	tx, err := in.db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store deliveries: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	inserted := make(map[string]int64, len(batch))
	for lo := 0; lo < len(batch); {
		n := in.db.ins.chunk(len(batch) - lo)
		if err := in.db.ins.exec(ctx, tx, batch[lo:lo+n], refs[lo:lo+n], inserted); err != nil {
			return fmt.Errorf("store deliveries: %w", err)
		}
		lo += n
	}
	newIDs := make([]int64, 0, len(inserted))
	for _, r := range batch {
		if id, ok := inserted[r.d.Key]; ok {
			r.res = Enqueued{ID: id}
			delete(inserted, r.d.Key) // a second copy in the same batch is a duplicate
			newIDs = append(newIDs, id)
			continue
		}
		r.res.Duplicate = true
		if err := tx.QueryRowContext(ctx, `SELECT id FROM webhook_delivery WHERE key = ?`, r.d.Key).Scan(&r.res.ID); err != nil {
			return fmt.Errorf("store deliveries: find duplicate %s: %w", r.d.Key, err)
		}
	}
	if len(newIDs) > 0 {
		if err := in.opts.Jobs(ctx, tx, newIDs); err != nil {
			return fmt.Errorf("store deliveries: enqueue jobs: %w", err)
		}
	}
	if err := setMark(ctx, tx, mark); err != nil {
		return fmt.Errorf("store deliveries: %w", err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store deliveries: commit: %w", err)
	}
	return nil
}

func receipts(group []committed) []Receipt {
	var out []Receipt
	for _, c := range group {
		for _, r := range c.reqs {
			d := r.d
			d.Payload = nil
			out = append(out, Receipt{Delivery: d, Bytes: len(r.d.Payload), Enqueued: r.res})
		}
	}
	return out
}
