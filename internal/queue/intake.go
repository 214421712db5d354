package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("webhook intake is closed")

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
	// anyone in them is answered; its error becomes each one's error. The
	// receiver audits receipts here. It runs beside the WAL sync and beside
	// the writing of the next batch, so a delivery waits for one fsync's
	// time, not two, and the writer never waits for the audit log.
	Receipts func(ctx context.Context, receipts []Receipt) error
}

// Receipt is one committed delivery, for Receipts. Payload is not kept.
type Receipt struct {
	Delivery NewDelivery
	Bytes    int
	Enqueued
}

// Intake stores deliveries with group commit, in two stages: a writer
// goroutine owns the write transaction and puts everyone waiting when it
// starts into it; a sync goroutine then fsyncs the WAL (one fsync for every
// batch committed meanwhile) while the writer already fills the next batch.
type Intake struct {
	db     *DB
	opts   IntakeOptions
	reqs   chan *intakeReq
	synced chan committed // committed batches waiting for SyncWAL
	done   chan struct{}

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool

	batches, items atomic.Int64

	syncBusy atomic.Bool   // syncLoop is syncing a group
	syncIdle chan struct{} // signalled (buffer 1) when syncLoop finishes a group
}

type intakeReq struct {
	d    NewDelivery
	res  Enqueued
	err  error
	done chan struct{}
}

// NewIntake starts the writer goroutine. Close stops it.
func NewIntake(db *DB, opts IntakeOptions) *Intake {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 32 << 20
	}
	in := &Intake{db: db, opts: opts, reqs: make(chan *intakeReq, 4*opts.MaxBatch),
		synced: make(chan committed), done: make(chan struct{}), syncIdle: make(chan struct{}, 1)}
	go in.loop()
	go in.syncLoop()
	return in
}

// Enqueue stores d and its job durably, or finds that d.Key was stored
// before. It returns once the transaction holding d has committed, the WAL
// is synced (Options.Synchronous FULL) and Receipts has run. If ctx
// ends first the delivery may still be committed: a retry by the provider
// then finds it as a duplicate.
func (in *Intake) Enqueue(ctx context.Context, d NewDelivery) (Enqueued, error) {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = in.db.now()
	}
	r := &intakeReq{d: d, done: make(chan struct{})}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return Enqueued{}, ErrClosed
	}
	select {
	case in.reqs <- r:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.mu.RUnlock()
		return Enqueued{}, ctx.Err()
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		return Enqueued{}, ctx.Err()
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
}

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
			release(batch, err)
			continue
		}
		in.synced <- committed{reqs: batch}
	}
}

// syncLoop makes committed batches durable: one WAL fsync for every batch
// committed before it started, then each batch's audit sync, then the
// answers. A batch is answered only after a sync that began after its
// commit, so a duplicate is never answered before its original is on disk.
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
		// The payload segment syncs beside the WAL: both before anyone in
		// the group is answered.
		segSynced := make(chan error, 1)
		go func() { segSynced <- in.db.SyncPayloads() }()
		err := in.db.SyncWAL()
		if serr := <-segSynced; err == nil {
			err = serr
		}
		if err != nil {
			err = fmt.Errorf("store deliveries: %w", err)
		}
		if aerr := <-audited; err == nil {
			err = aerr
		}
		in.syncBusy.Store(false)
		select {
		case in.syncIdle <- struct{}{}:
		default:
		}
		for _, c := range group {
			release(c.reqs, err)
		}
	}
}

func release(batch []*intakeReq, err error) {
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// commit writes one batch: the rows (duplicates skipped by the key's unique
// index), the jobs of the new ones, one commit.
func (in *Intake) commit(ctx context.Context, batch []*intakeReq) error {
	tx, err := in.db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store deliveries: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	// The payloads go to the segment first: a row never points at bytes
	// not yet written. A duplicate's copy is written too and left unused.
	payloads := make([][]byte, len(batch))
	for i, r := range batch {
		payloads[i] = r.d.Payload
	}
	refs, err := in.db.segs.append(payloads)
	if err != nil {
		return fmt.Errorf("store deliveries: %w", err)
	}
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

// insertStmts are multi-row INSERTs prepared once for 1, 2, 4, ... 32 rows: a
// batch is cut into such chunks, so no statement is compiled per batch.
type insertStmts struct {
	byRows map[int]*sql.Stmt
}

const maxInsertRows = 32

func prepareInserts(ctx context.Context, db *sql.DB) (*insertStmts, error) {
	s := &insertStmts{byRows: map[int]*sql.Stmt{}}
	for n := 1; n <= maxInsertRows; n *= 2 {
		q := `INSERT INTO webhook_delivery (key, provider, event_type, target, content_type, received_at, seg, seg_off, seg_len, seg_crc, payload) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?,x''),", n), ",") +
			` ON CONFLICT (key) DO NOTHING RETURNING id, key`
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			_ = s.close()
			return nil, fmt.Errorf("prepare insert of %d rows: %w", n, err)
		}
		s.byRows[n] = st
	}
	return s, nil
}

// chunk returns the largest prepared row count not above left.
func (s *insertStmts) chunk(left int) int {
	n := maxInsertRows
	for n > left {
		n /= 2
	}
	return n
}

func (s *insertStmts) exec(ctx context.Context, tx *sql.Tx, reqs []*intakeReq, refs []payloadRef, inserted map[string]int64) error {
	args := make([]any, 0, 10*len(reqs))
	for i, r := range reqs {
		d, ref := r.d, refs[i]
		args = append(args, d.Key, d.Provider, d.EventType, d.Target, d.ContentType, d.ReceivedAt.UnixMilli(),
			ref.seg, ref.off, ref.n, int64(ref.crc))
	}
	rows, err := tx.StmtContext(ctx, s.byRows[len(reqs)]).QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return err
		}
		inserted[key] = id
	}
	return rows.Err()
}

func (s *insertStmts) close() error {
	var errs []error
	for _, st := range s.byRows {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
