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

// ErrCommittedUnconfirmed wraps an error that came after the delivery's
// record was written to the payload segment: its sync failed, so it was not
// answered as stored, but the record may be on disk all the same, and the
// next start then stores it from there (recover.go). It may be processed,
// and a retry is then a duplicate. From Enqueue it also wraps a failed
// receipt of a delivery whose row and job were committed.
var ErrCommittedUnconfirmed = errors.New("written, but not confirmed durable and audited")

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
	// Jobs inserts the jobs of each index transaction's new deliveries in
	// it. Required.
	Jobs JobInserter
	// MaxBatch caps the deliveries of one write to the segment (answered
	// after one sync). Default 256. An index transaction, which holds no
	// payloads, is bounded by maxIndexRows instead.
	MaxBatch int
	// MaxBatchBytes caps the payload bytes of one write, so that a few 25
	// MiB GitHub payloads do not make one huge write. Default 32 MiB.
	MaxBatchBytes int
	// Receipts, if set, is given the deliveries of each index transaction
	// (their ids known, duplicates flagged) just before it commits, once
	// (a retried commit does not give them again); an error does not stop
	// the commit (the deliveries were answered already), but
	// Enqueue returns it, and Healthy reports it until a later transaction's
	// receipts succeed. The receiver audits receipts here: it appends the
	// records and lets the audit log sync them shortly after. A crash before
	// the commit loses nothing: the records past the mark are rebuilt at
	// start-up and given to Receipts then, Recovered set (duplicates too).
	// NewIntake also gives it, before they commit, the deliveries recovery
	// makes tombstones (Torn set) and those it rebuilds; an error then fails
	// NewIntake.
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

// Intake stores deliveries with group commit, in three stages: a writer
// goroutine appends each batch's records to the payload segment, putting
// everyone waiting when it starts into it; a sync goroutine fdatasyncs the
// segment (one sync for every batch appended meanwhile) and answers Accept;
// an index goroutine then inserts the rows, their jobs and the segment mark
// in one SQLite transaction per group of synced batches (a few milliseconds'
// worth under load), and answers Enqueue. The segment record is the
// intake's write-ahead log: an accepted delivery whose transaction a crash
// lost is rebuilt from it at the next start (recover.go).
type Intake struct {
	db        *DB
	opts      IntakeOptions
	reqs      chan *intakeReq
	synced    chan appendedBatch   // appended batches waiting for the segment's sync
	toIndex   chan []appendedBatch // synced groups waiting for their transaction
	done      chan struct{}
	lock      *os.File // flock held while this Intake is the segments' only writer
	recovered Recovery

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
	// closing is set by Close: the index stage then gives up on a
	// transaction that keeps failing instead of retrying for ever.
	closing atomic.Bool

	batches, items atomic.Int64
	commits        atomic.Int64 // index transactions committed
	unsynced       atomic.Int64 // deliveries handed to the writer and not yet through the sync stage
	// unindexed counts deliveries handed to the writer and neither refused
	// nor committed (nor given up); it drops before they are answered, so
	// a caller that has its answer never finds its delivery still counted.
	unindexed atomic.Int64

	// lastErr is the error of the last batch refused, nil once one is
	// answered as stored again; indexErr is the index stage's last
	// failure (a transaction or its receipts), nil once one succeeds.
	// Healthy reports either for unhealthyFor.
	hmu                   sync.Mutex
	lastErr, indexErr     error
	lastErrAt, indexErrAt time.Time
	clock                 func() time.Time // time.Now; tests set it
	// indexRetry is the first wait before a failed index transaction is
	// tried again; it doubles up to a second. Tests shorten it.
	indexRetry time.Duration

	// owed are receipts of committed deliveries that Receipts refused (the
	// audit log failing): given again, before their own, with the next
	// transaction's, and at Close. The index goroutine's only.
	owed []Receipt

	syncBusy atomic.Bool   // syncLoop is syncing a group
	syncIdle chan struct{} // signalled (buffer 1) when syncLoop finishes a group
	lockOnce sync.Once
}

// appendedBatch is a batch whose records are written to the segment.
type appendedBatch struct {
	reqs []*intakeReq
	app  appended
}

type intakeReq struct {
	d    NewDelivery
	res  Enqueued
	err  error
	done chan struct{}
	// indexed: answered once its row and job are committed (Enqueue);
	// otherwise once its record is on disk (Accept).
	indexed bool
	// answered is set when done is closed; only the stages read it, each
	// after the one before handed the request over.
	answered bool
	bytes    int // len(d.Payload): the payload is let go once written
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
		synced: make(chan appendedBatch), toIndex: make(chan []appendedBatch, indexQueue),
		done: make(chan struct{}), syncIdle: make(chan struct{}, 1), clock: time.Now, indexRetry: 50 * time.Millisecond}
	if in.recovered, err = in.recover(ctx); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("webhook intake: %w", err)
	}
	go in.loop()
	go in.syncLoop()
	go in.indexLoop()
	return in, nil
}

// Recovered reports what NewIntake mended.
func (in *Intake) Recovered() Recovery { return in.recovered }

// Accept stores d: it returns once d's segment record is on disk
// (Options.Synchronous FULL). Its row and job are committed shortly after
// (a crash before that loses nothing: recovery rebuilds them from the
// record), a duplicate of a stored key then enqueuing nothing, and
// Receipts is given it then. If ctx ends first the delivery may still be
// stored: a retry by the provider is then a duplicate.
func (in *Intake) Accept(ctx context.Context, d NewDelivery) error {
	_, err := in.submit(ctx, d, false)
	return err
}

// Enqueue stores d and its job, or finds that d.Key was stored before. It
// returns once d's segment record is on disk, the transaction holding its
// row and job has committed and Receipts has run. If ctx ends first the
// delivery may still be stored: a retry is then answered as a duplicate.
func (in *Intake) Enqueue(ctx context.Context, d NewDelivery) (Enqueued, error) {
	return in.submit(ctx, d, true)
}

func (in *Intake) submit(ctx context.Context, d NewDelivery, indexed bool) (Enqueued, error) {
	if n := headerSize(&d); n > maxRecordHeader {
		return Enqueued{}, fmt.Errorf("%w: %d bytes, at most %d", ErrFieldsTooLong, n, maxRecordHeader)
	}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = in.db.now()
	}
	r := &intakeReq{d: d, done: make(chan struct{}), indexed: indexed, bytes: len(d.Payload)}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return Enqueued{}, ErrClosed
	}
	in.unsynced.Add(1) // before the hand-over: the writer may answer at once
	in.unindexed.Add(1)
	select {
	case in.reqs <- r:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.unsynced.Add(-1)
		in.unindexed.Add(-1)
		in.mu.RUnlock()
		in.noteTimedOut(ctx)
		return Enqueued{}, ctx.Err()
	}
	select {
	case <-r.done:
		if !indexed || r.err != nil {
			return Enqueued{}, r.err
		}
		return r.res, nil
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

// Close stops accepting deliveries, stores and commits those already
// handed over and returns when the index stage is done. A transaction that
// keeps failing meanwhile is given up after three tries begun since:
// its deliveries are rebuilt from their records at the next start.
func (in *Intake) Close() {
	in.closing.Store(true)
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
// not append it, or its sync failed), if no batch was answered as stored
// since and it is recent (unhealthyFor), or else the index stage's last
// failure (its transaction, being retried, or its receipts), if none has
// succeeded since and it is recent: the receiver's /readyz then answers
// 503, as deliveries are being refused or not taken further. A failed
// segment sync is reported by DB.Ping, for good.
func (in *Intake) Healthy() error {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	if in.lastErr != nil && in.clock().Sub(in.lastErrAt) < unhealthyFor {
		return in.lastErr
	}
	if in.indexErr != nil && in.clock().Sub(in.indexErrAt) < unhealthyFor {
		return in.indexErr
	}
	return nil
}

// noteRefused notes a batch refused, by the writer or the sync stage.
func (in *Intake) noteRefused(err error) {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	in.lastErr, in.lastErrAt = err, in.clock()
}

// noteStored notes batches answered as stored (synced).
func (in *Intake) noteStored() {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	in.lastErr = nil
}

// noteIndexed notes the outcome of an index transaction and its receipts.
func (in *Intake) noteIndexed(err error) {
	in.hmu.Lock()
	defer in.hmu.Unlock()
	in.indexErr = err
	if err != nil {
		in.indexErrAt = in.clock()
	}
}

// Settled reports whether every delivery handed over so far was refused
// or has its row and job committed: none is being written, synced or
// waiting for its transaction.
func (in *Intake) Settled() bool { return !in.Busy() }

// Busy reports whether deliveries are being taken in right now: some are
// handed over and not yet answered, or answered and waiting for their
// transaction (which needs the one SQLite writer the worker's jobs use
// too). The worker defers to it.
func (in *Intake) Busy() bool { return in.unindexed.Load() > 0 }

// Stats returns the number of batches appended (each one write, its
// deliveries answered after one sync) and of deliveries in them so far;
// their ratio is the mean batch size.
func (in *Intake) Stats() (batches, items int64) { return in.batches.Load(), in.items.Load() }

// Commits returns the number of index transactions committed so far.
func (in *Intake) Commits() int64 { return in.commits.Load() }

// indexQueue is how many synced groups may wait for the index stage; when
// it is full the sync stage waits, and so, in turn, do new deliveries.
const indexQueue = 256

// indexGather is how long the index stage waits for more synced groups to
// join a transaction while deliveries are still coming through the writer:
// each transaction has a fixed cost (the River job, index pages, the WAL
// frames) that a larger one shares. maxIndexRows caps one transaction.
const (
	indexGather  = 5 * time.Millisecond
	maxIndexRows = 1024
)

// loop is the writer: it appends each batch's records to the segment and
// hands the batch to syncLoop, and writes the next batch while that one
// syncs.
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
			// joins this batch, so there are fewer, larger writes.
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
		ds := make([]*NewDelivery, len(batch))
		for i, r := range batch {
			ds[i] = &r.d
		}
		// A row never points at bytes not yet written: the records go to
		// the segment here, the rows after the sync.
		app, err := in.db.segs.append(ds)
		in.batches.Add(1)
		in.items.Add(int64(len(batch)))
		if err != nil {
			err = fmt.Errorf("store deliveries: %w", err)
			in.noteRefused(err)
			in.unsynced.Add(-int64(len(batch)))
			in.unindexed.Add(-int64(len(batch)))
			in.answer(batch, err, true)
			continue
		}
		for _, r := range batch {
			r.d.Payload = nil // in the segment now; a waiting group holds no payloads
		}
		in.synced <- appendedBatch{reqs: batch, app: app}
	}
}

// syncLoop makes appended batches durable: one fdatasync of the segment
// for every batch appended before it started, then the answers to Accept,
// then the group goes to the index stage. A batch is answered only after a
// sync that began after its records were written, so a duplicate is never
// answered 2xx before its original's record is on disk.
func (in *Intake) syncLoop() {
	defer close(in.toIndex)
	for first := range in.synced {
		in.syncBusy.Store(true)
		group := []appendedBatch{first}
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
		err := in.db.SyncPayloads()
		in.syncBusy.Store(false)
		select {
		case in.syncIdle <- struct{}{}:
		default:
		}
		n := countReqs(group)
		in.unsynced.Add(-int64(n))
		if err != nil {
			// Not indexed: the records may be on disk all the same, and
			// the next start then stores them (recover.go) unless a later
			// batch's transaction moves the mark past them first (a failed
			// sync of the segment is sticky, one of its directory is not).
			// Either is allowed of a delivery answered 503.
			err = fmt.Errorf("%w: store deliveries: %w", ErrCommittedUnconfirmed, err)
			in.noteRefused(err)
			in.unindexed.Add(-int64(n))
			for _, c := range group {
				in.answer(c.reqs, err, true)
			}
			continue
		}
		in.noteStored()
		for _, c := range group {
			in.answer(c.reqs, nil, false)
		}
		in.toIndex <- group
	}
}

// indexLoop commits the rows, jobs and segment mark of synced groups, in
// order, several groups per transaction while deliveries keep coming.
func (in *Intake) indexLoop() {
	defer close(in.done)
	defer in.payOwed()
	for first := range in.toIndex {
		batches := first
		rows := countReqs(first)
		var timer *time.Timer
	gather:
		for rows < maxIndexRows {
			select {
			case g, ok := <-in.toIndex:
				if !ok {
					break gather
				}
				batches = append(batches, g...)
				rows += countReqs(g)
				continue
			default:
			}
			if in.unsynced.Load() == 0 || in.closing.Load() {
				break gather // nothing more on its way
			}
			if timer == nil {
				timer = time.NewTimer(indexGather)
			}
			select {
			case g, ok := <-in.toIndex:
				if !ok {
					break gather
				}
				batches = append(batches, g...)
				rows += countReqs(g)
			case <-timer.C:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if !in.index(batches) {
			// Given up at Close: later groups must not move the mark past
			// these records, which the next start rebuilds.
			for g := range in.toIndex {
				in.unindexed.Add(-int64(countReqs(g)))
				for _, c := range g {
					in.answer(c.reqs, errIndexGivenUp, true)
				}
			}
			return
		}
	}
}

// maxOwedReceipts bounds Intake.owed: beyond it the oldest are dropped (an
// audit log failing for that long is reported by Healthy all along).
const maxOwedReceipts = 1 << 16

// owe keeps rs to be given again, dropping the oldest beyond
// maxOwedReceipts.
func (in *Intake) owe(rs []Receipt) {
	in.owed = append(in.owed, rs...)
	if n := len(in.owed) - maxOwedReceipts; n > 0 {
		in.owed = append([]Receipt(nil), in.owed[n:]...)
	}
}

// payOwed gives the owed receipts, at Close.
func (in *Intake) payOwed() {
	if len(in.owed) == 0 || in.opts.Receipts == nil {
		return
	}
	if err := in.opts.Receipts(context.Background(), in.owed); err == nil {
		in.owed = nil
	}
}

// errIndexGivenUp answers Enqueue for deliveries whose transaction was
// given up at Close.
var errIndexGivenUp = fmt.Errorf("%w: the intake closed before its row was committed; the next start stores it from its record", ErrCommittedUnconfirmed)

func countReqs(g []appendedBatch) int {
	n := 0
	for _, c := range g {
		n += len(c.reqs)
	}
	return n
}

// index commits one transaction for batches, retrying a failure (a busy
// or failing database) with backoff: the deliveries are answered already,
// and the mark must not move past them. Only once Close is waiting does it
// give up, after a few tries, and report false.
func (in *Intake) index(batches []appendedBatch) bool {
	var reqs []*intakeReq
	var refs []payloadRef
	for _, c := range batches {
		reqs = append(reqs, c.reqs...)
		refs = append(refs, c.app.refs...)
	}
	mark := batches[len(batches)-1].app.mark
	// store writes each one's result into work, copies: a request answered
	// already (Accept, or Enqueue told of a failed try) is read by its
	// caller meanwhile.
	work := make([]*intakeReq, len(reqs))
	wait := in.indexRetry
	// The receipts come just before the commit: a process killed after the
	// commit has given them, and one killed before it has not committed
	// the mark either, so the next start rebuilds the deliveries and gives
	// them then (given after the commit, a kill between the two lost them
	// for deliveries answered 202: TestWebhooksSurviveSIGKILL). Given
	// once: a commit that fails is retried without giving them again
	// (found in review), unless they failed too, or the retry stores a
	// delivery otherwise (another id, or duplicate or not: a prune between
	// the tries; found in review), whose receipt is then given again, with
	// what this transaction commits.
	var given []Enqueued // what the receipts given said, by index in reqs
	var receiptErr error
	var refused []Receipt // the receipts of the last try, if Receipts refused them
	// triesClosing counts the tries begun once Close was called: a try
	// already under way when it was called says nothing of the database
	// since (a test caught Close giving up with no try after the database
	// had recovered).
	triesClosing := 0
	for {
		if in.closing.Load() {
			triesClosing++
		}
		for i, r := range reqs {
			work[i] = &intakeReq{d: r.d, bytes: r.bytes}
		}
		err := in.store(context.Background(), work, refs, mark, func() error {
			if in.opts.Receipts == nil {
				return nil
			}
			give := work
			if given != nil {
				give = nil
				for i, w := range work {
					if w.res != given[i] {
						give = append(give, w)
					}
				}
				if len(give) == 0 {
					return nil
				}
			}
			rs := receiptsOf(give)
			// Receipts refused earlier come first, once more (found in
			// review: they were never written).
			all := rs
			if len(in.owed) > 0 {
				all = append(append([]Receipt(nil), in.owed...), rs...)
			}
			refused = nil
			if receiptErr = in.opts.Receipts(context.Background(), all); receiptErr != nil {
				refused = rs
				return nil // answered already: commit all the same
			}
			in.owed = nil
			if given == nil {
				given = make([]Enqueued, len(work))
			}
			for i, w := range work {
				given[i] = w.res
			}
			return nil
		})
		if err == nil {
			in.commits.Add(1)
			in.unindexed.Add(-int64(len(reqs)))
			for i, r := range reqs {
				if !r.answered {
					r.res = work[i].res
				}
			}
			if receiptErr != nil {
				in.owe(refused)
				receiptErr = fmt.Errorf("%w: %w", ErrCommittedUnconfirmed, receiptErr)
			}
			in.noteIndexed(receiptErr)
			in.answer(reqs, receiptErr, true)
			return true
		}
		in.noteIndexed(err)
		if triesClosing >= 3 {
			in.unindexed.Add(-int64(len(reqs)))
			in.answer(reqs, fmt.Errorf("%w: %w", errIndexGivenUp, err), true)
			return false
		}
		// Enqueue's callers hear of it now rather than after the retries
		// (which may run until the database recovers): their row is not
		// committed yet, and may be by a later try.
		in.answer(reqs, fmt.Errorf("%w: its row is not committed yet (retrying): %w", ErrCommittedUnconfirmed, err), true)
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// answer answers the requests of batch that wait for this stage: those
// waiting for their row (indexed) or for their record (not indexed). With
// a non-nil err every request still waiting is answered with it.
func (in *Intake) answer(batch []*intakeReq, err error, indexed bool) {
	for _, r := range batch {
		if r.answered || (err == nil && r.indexed != indexed) {
			continue
		}
		if err != nil {
			r.err = err
		}
		r.answered = true
		close(r.done)
	}
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

func receiptsOf(reqs []*intakeReq) []Receipt {
	out := make([]Receipt, 0, len(reqs))
	for _, r := range reqs {
		d := r.d
		d.Payload = nil
		out = append(out, Receipt{Delivery: d, Bytes: r.bytes, Enqueued: r.res})
	}
	return out
}
