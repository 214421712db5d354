package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/dirs"
	"github.com/saas-mcp/saas-mcp/internal/flock"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// Options tune a Writer.
type Options struct {
	// Sync, when true, fsyncs the file so that a record Write accepted
	// survives a power loss. Concurrent writers share one fsync (group
	// commit). When false, a record survives a crash of this process (it is
	// in the OS page cache) but maybe not of the machine.
	Sync bool
	// Redactor removes secrets from every string of a record.
	Redactor *redact.Redactor
	// Now stamps records that have no TS. Default time.Now.
	Now func() time.Time
	// DeferredSync is how long a WriteDeferred record may wait for an fsync
	// that another record's sync would cover anyway. Default 20ms.
	DeferredSync time.Duration
	// syncFile is fsync; tests make it fail on demand. Default
	// (*os.File).Sync.
	syncFile func(*os.File) error
}

// Writer appends records to an NDJSON file. Each record (or batch of
// records) is one write(2) of whole lines to a file opened with O_APPEND, so
// lines from several goroutines or processes never interleave. It is safe for concurrent use.
//
// The log may be rotated by renaming it (or removed) while the Writer runs:
// each append checks, under the flock, that the path still names the file it
// holds, and reopens the path otherwise (see lockCurrent).
type Writer struct {
	mu      sync.Mutex // guards f's writes, the swap of f, buf, scratch, unrecordedCut and written
	fmu     sync.RWMutex
	f       *os.File // swapped under mu and fmu; syncTo reads it under fmu alone
	path    string
	opts    Options
	buf     []byte       // the lines of one append
	scratch bytes.Buffer // for Details
	written uint64       // records written so far
	// unrecordedCut is the bytes of partial lines cut off the end of the
	// log (by Open, or by an append: another process's) whose audit.repair
	// record is not in the log yet: the next append that succeeds carries
	// it.
	unrecordedCut int64

	// hmu guards lastErr and lastErrAt only, so that Healthy never waits
	// for mu, which an append holds while it waits for the flock.
	hmu       sync.Mutex
	lastErr   error     // the last append's error, nil if it succeeded
	lastErrAt time.Time // when it failed

	smu     sync.Mutex // guards what follows
	cond    *sync.Cond
	synced  uint64 // records known to be on disk
	syncing bool   // a goroutine is in fsync now
	syncErr error  // sticky: once the log cannot be synced, every write fails
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	// deferred is armed while a WriteDeferred record waits for its sync.
	deferred     *time.Timer
	deferPending bool
	// Repaired is the number of bytes of a half-written last line removed
	// when the file was opened (a crash in the middle of a write).
	Repaired int64
}

var _ Sink = (*Writer)(nil)

// Open opens (creating if needed) the audit log at path, with its directory.
// A half-written last line, left by a crash mid-write, is cut off so the file
// stays valid NDJSON; Repaired tells how many bytes went.
func Open(path string, opts Options) (*Writer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.syncFile == nil {
		opts.syncFile = (*os.File).Sync
	}
	if opts.DeferredSync <= 0 {
		opts.DeferredSync = 20 * time.Millisecond
	}
	if err := dirs.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create audit log directory: %w", err)
	}
	// Read as well as write: a write checks the end of the file first.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	// Under Sync every record is fsynced, which a FIFO or a device
	// (/dev/null) refuses: the first call's sync would fail and every call
	// after it be refused. Say so now instead (review observation).
	if opts.Sync {
		if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
			_ = f.Close()
			return nil, fmt.Errorf("open audit log: %s is not a regular file (%s), so its records cannot be synced; "+
				"point AUDIT_LOG_PATH at a file, or set AUDIT_SYNC=never to write to it unsynced", path, st.Mode().Type())
		}
	}
	// A new log's name must be durable too, or a power cut could take
	// every record synced into it. Synced at every start, not only when
	// this process created the file: its creator may have died, or failed
	// to sync, before it could.
	if err := dirs.FileIn(path); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	w := &Writer{f: f, path: path, opts: opts, kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	w.cond = sync.NewCond(&w.smu)
	if w.Repaired, err = repairTail(path); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("repair audit log: %w", err)
	}
	// Its record rides with the first append that succeeds (RecordRepair
	// writes it at once if it can): were it written once and dropped on
	// failure, the cut bytes would be gone with nothing in the log to say
	// so (found in review).
	w.unrecordedCut = w.Repaired
	go w.syncLoop()
	return w, nil
}

// repairTail truncates the file after its last newline when the last line is
// incomplete. It returns the number of bytes removed.
func repairTail(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// Under the flock writers append with (Writer.write), so a line another
	// process is writing right now is never taken for a torn one.
	if err := flock.Lock(context.Background(), f, lockWait); err != nil {
		return 0, fmt.Errorf("lock: %w", err)
	}
	return cutPartialLine(f)
}

// cutPartialLine truncates f after its last newline when its last line is
// incomplete, and syncs the cut; it returns the number of bytes removed. The
// caller holds the flock.
func cutPartialLine(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return cutPartialLineAt(f, st.Size())
}

// cutPartialLineAt is cutPartialLine for a file known to be size bytes long
// (the append path has just fstat'ed it, under the flock).
func cutPartialLineAt(f tailFile, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return 0, nil
	}
	// Walk back in chunks to the previous newline.
	const chunk = 64 << 10
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			keep := start + int64(i) + 1
			return truncateSync(f, keep, size-keep)
		}
		end = start
	}
	return truncateSync(f, 0, size)
}

// hookedFile is the log's file with Options.syncFile as its Sync.
type hookedFile struct {
	*os.File
	sync func(*os.File) error
}

func (h hookedFile) Sync() error { return h.sync(h.File) }

// tailFile is what cutting a partial line needs of the log's file.
type tailFile interface {
	ReadAt(b []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
}

// unsyncedCutError is a cut made but not synced: the bytes are gone from
// the file, and the fsync that failed may have lost other pages too.
type unsyncedCutError struct{ err error }

func (e *unsyncedCutError) Error() string { return "sync the cut: " + e.err.Error() }
func (e *unsyncedCutError) Unwrap() error { return e.err }

// truncateSync cuts f to n bytes (removing cut) and syncs it. It returns
// cut when the truncation happened, with an *unsyncedCutError if the sync
// then failed, and 0 when nothing was cut.
func truncateSync(f tailFile, n, cut int64) (int64, error) {
	if err := f.Truncate(n); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return cut, &unsyncedCutError{err}
	}
	return cut, nil
}

// Path returns the file the writer appends to.
func (w *Writer) Path() string { return w.path }

// Write appends one record and, under Sync, returns once it is on disk. It
// returns an error if the line is not fully written (or synced): the caller
// must then refuse the action it was about to take.
func (w *Writer) Write(ctx context.Context, r Record) error {
	seq, err := w.append(ctx, r)
	if err != nil || !w.opts.Sync {
		return err
	}
	return w.syncTo(seq)
}

// WriteBatch appends records and, under Sync, returns once all of them are on
// disk, with one fsync for the batch (shared with concurrent writers).
func (w *Writer) WriteBatch(ctx context.Context, recs []Record) error {
	seq, err := w.append(ctx, recs...)
	if err != nil || seq == 0 || !w.opts.Sync {
		return err
	}
	return w.syncTo(seq)
}

// WriteDeferred appends one record without waiting for the disk: the line is
// in the OS page cache (it survives a crash of this process), and its fsync
// runs within Options.DeferredSync, shared with the records written
// meanwhile (or sooner, with the next Write). For records whose loss in a
// power cut is tolerated or explained otherwise (a tool call's records: its
// idempotency claim is durable): an fsync started at once would run into
// the claim's own, and the call would wait for both. Flush waits for it.
func (w *Writer) WriteDeferred(ctx context.Context, r Record) error {
	if _, err := w.append(ctx, r); err != nil {
		return err
	}
	w.deferSync()
	return nil
}

// WriteBatchDeferred appends records like WriteBatch but, like
// WriteDeferred, does not wait for the disk: their fsync runs within
// Options.DeferredSync. The records are in the OS page cache when it
// returns, so a crash of this process cannot lose them; a power cut can.
func (w *Writer) WriteBatchDeferred(ctx context.Context, recs []Record) error {
	if _, err := w.append(ctx, recs...); err != nil {
		return err
	}
	if len(recs) > 0 {
		w.deferSync()
	}
	return nil
}

// deferSync arms (or re-arms) the timer of a deferred fsync.
func (w *Writer) deferSync() {
	if !w.opts.Sync {
		return
	}
	w.smu.Lock()
	defer w.smu.Unlock()
	switch {
	case w.deferPending:
		// An armed timer covers these records too.
	case w.deferred == nil:
		w.deferPending = true
		w.deferred = time.AfterFunc(w.opts.DeferredSync, w.deferredKick)
	default:
		w.deferPending = true
		w.deferred.Reset(w.opts.DeferredSync)
	}
}

func (w *Writer) deferredKick() {
	w.smu.Lock()
	w.deferPending = false
	w.smu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Flush returns once every record written so far is on disk (under Sync),
// or the error that stops it from getting there.
func (w *Writer) Flush(ctx context.Context) error {
	if !w.opts.Sync {
		return w.stickyErr()
	}
	w.mu.Lock()
	seq := w.written
	w.mu.Unlock()
	return w.syncTo(seq)
}

// append writes recs, redacted and encoded, in one write(2) and returns the
// sequence number of the last one (0 for none).
func (w *Writer) append(ctx context.Context, recs ...Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		// Callers pass a context without cancellation for terminal records,
		// so this is a call whose own ctx ended before anything was written.
		return 0, fmt.Errorf("write audit record: %w", err)
	}
	if err := w.stickyErr(); err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	now := w.opts.Now()

	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.dropHugeBuffers()
	w.buf = w.buf[:0]
	for i := range recs {
		r := Redact(w.opts.Redactor, recs[i])
		if r.TS.IsZero() {
			r.TS = now
		}
		// One zone for every record (records stamped in local time beside
		// writeAudit's UTC ones read, and sort, wrongly; review
		// observation).
		r.TS = r.TS.UTC()
		var err error
		if w.buf, err = appendRecord(w.buf, &r, &w.scratch); err != nil {
			return 0, fmt.Errorf("encode audit record: %w", err)
		}
	}
	err := w.write(ctx, w.buf)
	w.noteAppend(err)
	if err != nil {
		return 0, err
	}
	w.written += uint64(len(recs))
	return w.written, nil
}

// noteAppend records an append's outcome for Healthy.
func (w *Writer) noteAppend(err error) {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if err != nil {
		w.lastErr, w.lastErrAt = err, w.opts.Now()
	} else {
		w.lastErr = nil
	}
}

// keepBuffer is the largest encoding buffer a Writer keeps between
// appends. A record's details are free-form (writeAudit's are not bounded
// by size), and one huge record must not pin its buffers for the life of
// the process: serve aims at a 20 MiB RSS.
const keepBuffer = 1 << 20

// dropHugeBuffers lets go of the buffers a huge record or batch grew, on
// every path out of append, failed ones included. Called with mu held.
func (w *Writer) dropHugeBuffers() {
	if cap(w.buf) > keepBuffer {
		w.buf = nil
	}
	if w.scratch.Cap() > keepBuffer {
		w.scratch = bytes.Buffer{}
	}
}

// write appends b in one write(2) under the file's flock. Every Writer, in
// this process or another, takes it, so that a failed write can be taken
// back: a write cut short (disk full) leaves part of a line at the end, and
// the next record would be appended to it, a broken line in the middle of
// the log. Holding the lock, nothing else can have been appended after the
// cut part, so it is truncated away. If that fails too, every later write
// fails (fail closed) until a restart, whose repair cuts the tail.
// Called with mu held.
func (w *Writer) write(ctx context.Context, b []byte) error {
	size, err := w.lockCurrent(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = flock.Unlock(w.f) }()
	// Another process sharing the log may have been killed in the middle of
	// a write, leaving part of a line at the end: cut it off first, and say
	// so in the log, or this record would be glued to it. The cut is
	// durable at once; its record rides with this append and, should the
	// append fail (and be taken back), with the next one.
	// An fsync may have failed while this append waited for mu or the
	// flock: nothing may be appended after a failed fsync, as a later one
	// can succeed without the lost pages (found in review).
	if err := w.stickyErr(); err != nil {
		return err
	}
	if err := w.cutPartial(size); err != nil {
		return err
	}
	if w.unrecordedCut > 0 {
		b = append(w.repairLine(w.unrecordedCut), b...)
	}
	n, err := w.f.Write(b)
	if err == nil {
		w.unrecordedCut = 0
		return nil
	}
	err = fmt.Errorf("append to audit log %s: %w", w.path, err)
	if n > 0 {
		if cerr := w.cutTail(int64(n)); cerr != nil {
			err = fmt.Errorf("%w; %w (refusing audit records until restarted)", err, cerr)
			w.smu.Lock()
			if w.syncErr == nil {
				w.syncErr = err
			}
			w.smu.Unlock()
		}
	}
	return err
}

// cutPartial cuts a partial line left at the end (size) of w.f, which the
// caller holds locked, and counts it in unrecordedCut: its audit.repair
// record goes with the next append that succeeds.
func (w *Writer) cutPartial(size int64) error {
	cut, err := cutPartialLineAt(hookedFile{w.f, w.opts.syncFile}, size)
	if err != nil {
		err = fmt.Errorf("check the end of audit log %s: %w", w.path, err)
		if ue := (*unsyncedCutError)(nil); errors.As(err, &ue) {
			// The cut stands, so its record must still come with the
			// next append that succeeds (review observation: it was
			// dropped). Under Sync a failed fsync is sticky, as
			// everywhere else, and no append follows until a restart;
			// under AUDIT_SYNC=never, which promises no fsync, only this
			// append fails.
			w.unrecordedCut += cut
			if w.opts.Sync {
				w.smu.Lock()
				if w.syncErr == nil {
					w.syncErr = err
				}
				w.smu.Unlock()
			}
		}
		return err
	}
	w.unrecordedCut += cut
	return nil
}

// lockCurrent takes the flock of the file the log's path names, reopening
// the path first when w.f is no longer that file. A log rotated by rename
// (logrotate's default) or removed would otherwise take this process's
// records forever: into the rotated file, while processes started since
// append to the new one under another inode's flock, or into an unlinked
// file no one can read. The check runs under w.f's flock, so a record is
// never written to a file other than the one locked. If the path cannot be
// opened (its directory is gone), the append fails: the log fails closed.
// Called with mu held; on success, w.f is locked and size is its length.
func (w *Writer) lockCurrent(ctx context.Context) (size int64, err error) {
	const tries = 3
	for range tries {
		if err := flock.Lock(ctx, w.f, lockWait); err != nil {
			return 0, fmt.Errorf("lock audit log %s: %w", w.path, err)
		}
		size, current, err := w.holdsPath()
		if err == nil && current {
			return size, nil
		}
		if err == nil {
			// Rotated away: no one appends to this file again, so a
			// partial line a killed writer left at its end would stay
			// there for good; cut it now, holding its lock, and say so
			// in the new file (found in review: it was never cut).
			err = w.cutPartial(size)
		}
		_ = flock.Unlock(w.f)
		if err != nil {
			return 0, err
		}
		if err := w.reopen(); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("lock audit log %s: replaced %d times while being reopened", w.path, tries)
}

// holdsPath reports whether w.f is the file w.path names now: not when the
// log was renamed or removed (with or without a new file at the path). It
// also returns w.f's size, which the append needs next.
func (w *Writer) holdsPath() (size int64, current bool, err error) {
	held, err := w.f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("check audit log %s: %w", w.path, err)
	}
	named, err := os.Stat(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return held.Size(), false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("check audit log %s: %w", w.path, err)
	}
	return held.Size(), os.SameFile(held, named), nil
}

// reopen opens (creating if needed) the file at w.path in place of w.f.
// The file given up is synced first under Sync, before any fsync can go to
// the new file: syncTo counts a record durable once the file it runs on is
// synced, and the records written so far are in the old one. A partial
// line at the end of the new file is cut by write, as for any append.
// Called with mu held and no flock.
func (w *Writer) reopen() error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("reopen audit log: %w", err)
	}
	// As in Open: the new file's name must be durable too.
	if err := dirs.FileIn(w.path); err != nil {
		_ = f.Close()
		return fmt.Errorf("reopen audit log: %w", err)
	}
	w.fmu.Lock() // waits for an fsync running on the old file
	if w.opts.Sync {
		if err := w.opts.syncFile(w.f); err != nil {
			w.fmu.Unlock()
			_ = f.Close()
			err = fmt.Errorf("sync audit log %s before reopening it: %w", w.path, err)
			w.smu.Lock()
			if w.syncErr == nil {
				w.syncErr = err
			}
			w.smu.Unlock()
			return err
		}
	}
	old := w.f
	w.f = f
	w.fmu.Unlock()
	_ = old.Close()
	return nil
}

// RecordRepair appends the audit.repair record of a partial line cut off
// the end of the log whose record is not in it yet (Open's, Repaired
// bytes). If it fails, the record rides with the next append that
// succeeds.
func (w *Writer) RecordRepair(ctx context.Context) error {
	// The record of a cut already made is a terminal record: written even
	// when ctx has ended (a stop signal during start-up), or the bytes
	// would be gone with nothing in the log to say so (found in review).
	ctx = context.WithoutCancel(ctx)
	if err := w.stickyErr(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.unrecordedCut == 0 {
		w.mu.Unlock()
		return nil
	}
	err := w.write(ctx, nil) // write puts the repair line first
	// As append: a failure shows in Healthy, and the line counts as a
	// record, so that Sync waits for it and Flush and Close sync it (found
	// in review: neither happened).
	w.noteAppend(err)
	if err == nil {
		w.written++
	}
	seq := w.written
	w.mu.Unlock()
	if err != nil || !w.opts.Sync {
		return err
	}
	return w.syncTo(seq)
}

// repairLine is the audit.repair record of a partial line cut off the end
// of the log.
func (w *Writer) repairLine(cut int64) []byte {
	r := Record{TS: w.opts.Now().UTC(), Actor: "saas-mcp", Provider: "saas-mcp", Action: "audit.repair", Target: w.path,
		Status: StatusSucceeded, Details: map[string]any{
			"bytesRemoved": cut, "cause": "a partial line left by a process stopped in the middle of a write"}}
	line, err := appendRecord(nil, &r, &w.scratch)
	if err != nil {
		return nil // the cut stands; only its record is missing
	}
	return line
}

// cutTail removes the last n bytes of the file: the part of a record a
// failed write left. Called with the flock held.
func (w *Writer) cutTail(n int64) error {
	st, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("take back a partial record: %w", err)
	}
	if st.Size() < n {
		return fmt.Errorf("take back a partial record: the file is shorter (%d) than what was written (%d)", st.Size(), n)
	}
	if err := w.f.Truncate(st.Size() - n); err != nil {
		return fmt.Errorf("take back a partial record: %w", err)
	}
	return nil
}

// lockWait bounds the wait for the log's flock. A writer holds it for one
// write(2); a holder that keeps it longer is stopped (SIGSTOP, a debugger)
// or is not saas-mcp, and the call is refused rather than left hanging.
const lockWait = 5 * time.Second

// unhealthyFor is how long a failed append makes Healthy report it: long
// enough for a load balancer to look elsewhere, short enough that traffic
// comes back to find out whether room was made (nothing else writes).
const unhealthyFor = 10 * time.Second

// Healthy returns why records cannot be written now, or nil: the sticky
// error after a failed fsync or take-back, or else the error of the last
// append if it failed (a full disk) within unhealthyFor. A receiver that
// needs its audit log reports it on /readyz rather than take traffic it
// would refuse.
func (w *Writer) Healthy() error {
	if err := w.stickyErr(); err != nil {
		return err
	}
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if w.lastErr != nil && w.opts.Now().Sub(w.lastErrAt) < unhealthyFor {
		return w.lastErr
	}
	return nil
}

func (w *Writer) stickyErr() error {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.syncErr
}

// syncTo waits until record seq is on disk. One caller at a time runs fsync;
// the others wait for it, and one fsync covers every record written before
// it started (group commit).
func (w *Writer) syncTo(seq uint64) error {
	w.smu.Lock()
	defer w.smu.Unlock()
	for w.synced < seq && w.syncErr == nil {
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		w.smu.Unlock()
		w.mu.Lock()
		upto := w.written
		w.mu.Unlock()
		// Records up to upto are in w.f, or were in a file reopen
		// synced before it let go of it.
		w.fmu.RLock()
		err := w.opts.syncFile(w.f)
		w.fmu.RUnlock()
		w.smu.Lock()
		w.syncing = false
		if err != nil {
			w.syncErr = fmt.Errorf("sync audit log %s: %w", w.path, err)
		} else if upto > w.synced {
			w.synced = upto
		}
		w.cond.Broadcast()
	}
	return w.syncErr
}

// syncLoop runs the fsyncs the deferred-sync timer asks for.
func (w *Writer) syncLoop() {
	defer close(w.stopped)
	for {
		select {
		case <-w.stop:
			return
		case <-w.kick:
			_ = w.Flush(context.Background())
		}
	}
}

// Close syncs what is written and closes the file.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.stop) })
	w.smu.Lock()
	if w.deferred != nil {
		w.deferred.Stop()
	}
	w.smu.Unlock()
	<-w.stopped
	err := w.Flush(context.Background())
	w.mu.Lock()
	defer w.mu.Unlock()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Redact returns r with every string field and every string inside Details
// passed through red.
func Redact(red *redact.Redactor, r Record) Record {
	// The actor is the MCP client's clientInfo.name, which the client
	// chooses; errors can quote long provider answers. Both are cut, as
	// the target and key are (review observation: they were unbounded).
	r.Actor = red.Clip(r.Actor, MaxField)
	r.Provider = red.String(r.Provider)
	r.Action = red.String(r.Action)
	// Cut after redaction, never before: a secret cut in two would no
	// longer match, and its first half would be kept.
	r.Target = red.Clip(r.Target, MaxField)
	r.IdempotencyKey = red.Clip(r.IdempotencyKey, MaxField)
	r.Error = red.Clip(r.Error, MaxError)
	if r.Details != nil {
		r.Details = redactMap(red, r.Details)
	}
	return r
}

// redactMap redacts m's keys as well as its values. Two keys can redact to
// one (two tokens, each masked), and a map keeps one value per key: then
// every value is kept all the same, under the redacted key suffixed #2, #3,
// ... (see redactMapColliding).
func redactMap(red *redact.Redactor, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[keyName(red, k)] = redactValue(red, v)
	}
	if len(out) < len(m) {
		return redactMapColliding(red, m)
	}
	return out
}

// keyName is a details key as written: redacted, and with invalid UTF-8
// replaced as the encoder would write it, so that keys differing only in
// invalid bytes collide here, where every value is kept, not in the
// encoded object, where a reader keeps one (found in review).
func keyName(red *redact.Redactor, k string) string {
	return strings.ToValidUTF8(red.String(k), "\uFFFD")
}

// redactMapColliding is redactMap for keys that collide once redacted. The
// names are the same whatever the map's order, so that one record redacts
// the same way twice (writeAudit shows the agent the record as logged): the
// keys redaction leaves alone keep their names, then the others, in sorted
// order, take their redacted name or, when it is taken, the first free one
// of it suffixed #2, #3, ...
func redactMapColliding(red *redact.Redactor, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	var changed []string
	for k, v := range m {
		if rk := keyName(red, k); rk == k {
			out[k] = redactValue(red, v)
		} else {
			changed = append(changed, k)
		}
	}
	slices.Sort(changed)
	for _, k := range changed {
		rk := keyName(red, k)
		name := rk
		for n := 2; ; n++ {
			if _, taken := out[name]; !taken {
				break
			}
			name = rk + "#" + strconv.Itoa(n)
		}
		out[name] = redactValue(red, m[k])
	}
	return out
}

func redactValue(red *redact.Redactor, v any) any {
	switch t := v.(type) {
	case string:
		return red.String(t)
	case json.Number:
		// An all-digit secret given as a number: kept a number unless it
		// is one, then it becomes the mask.
		if r := red.String(string(t)); r != string(t) {
			return r
		}
		return t
	case map[string]any:
		return redactMap(red, t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(red, e)
		}
		return out
	case []string:
		out := make([]string, len(t))
		for i, e := range t {
			out[i] = red.String(e)
		}
		return out
	default:
		return v
	}
}

// MaxField bounds the target and key a record copies from a call's
// arguments: a tool call's started record is written before validation,
// and a 4 MB argument must not be copied into the log twice. Valid ones
// are shorter (a key is at most 255 characters, a writeAudit target 512
// characters, up to 2 KiB of UTF-8).
const MaxField = 4096

// MaxError bounds a record's error, cut as MaxField: every problem of a
// refused call is listed in it, each already cut to length.
const MaxError = 16 << 10
