package queue

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// What a crash leaves, and how NewIntake mends it.
//
// An intake batch is: records appended to the segment, then one fdatasync
// of the segment, then the answers, then (for a few batches at once) one
// SQLite transaction: rows, jobs, and the segment mark, how far the segments
// are indexed. A crash after the answers and before that transaction
// commits leaves records past the mark, answered, with no rows. The WAL is
// not synced per transaction (synchronous=NORMAL), and the kernel writes
// each file back on its own, so after a power cut each file holds what was
// synced and any part of what was not:
//
//   - SQLite holds a prefix of its commits (the WAL is replayed up to its
//     first bad frame), and the mark row is that prefix's last batch. Every
//     record past the mark was appended after it: if it was answered, the
//     segment was synced past it, so it is intact on disk, and recovery
//     inserts its row and job again (ON CONFLICT on the key does nothing for
//     a duplicate's record), with its original received_at, and hands it to
//     Receipts as Recovered. With no mark at all (the process was killed,
//     or a power cut lost every commit, before a new database's first index
//     transaction committed; or webhooks.db was removed), every segment newer than those the rows
//     point into is read from its start and redone (after a removal, that
//     includes deliveries already handled, which the handlers make
//     harmless).
//   - A row may survive whose record did not (a checkpoint put the WAL on
//     disk, the segment's pages or its new directory entry did not get
//     there): it was never answered. Rows are committed after their
//     records' sync now, so such a row comes from a receiver of an earlier
//     release (which committed before the sync), or a disk that lies about
//     its syncs. Recovery turns it into a tombstone
//     (state processed, outcome "torn", key freed, no payload) so the
//     provider's retry is stored anew; a tombstone keeps its id, which a
//     queued job may still name, from being reused.
//
// Only the tail can be affected: records from the mark's durable offset on
// (the segment was synced up to there before the mark's batch was written)
// and later segments (a segment is synced whole, its directory entry too,
// before the next is started). Start-up reads just that tail, keeps the
// good records it finds, and judges each row pointing into the tail by the
// record it lands on (same offset, length, CRC and key), not by offsets
// alone: an empty payload's offset is the end of its record, which is where
// the next record starts. A row
//
//   - landing on a good record is kept.
//   - landing in damaged bytes followed by a good record (damage in the
//     middle) is kept if any later record says the segment had been synced
//     past the damage when it was written: the bytes were on disk and their
//     deliveries answered. Their payload cannot be read, so their jobs
//     dead-letter where an operator sees them, and Recovery.Corrupt counts
//     the damage. Otherwise it was a torn write that the kernel wrote back
//     out of order, never answered: a tombstone.
//   - landing anywhere else (a torn tail, past the end of the file, in a
//     segment file that is gone) was never answered: a tombstone. A torn
//     tail is cut from its file.
//
// Recovery's own writes are ordered so that a second power cut during them
// leaves what the next start mends the same way: the tombstones commit and
// the WAL is synced; then the torn tails are cut and the segments synced, and
// the directory, so that the mark a rebuilt batch writes vouches only for
// bytes on disk; then the rows are rebuilt and the WAL synced again. The
// judgement rests on the rows and the records on disk only, never on finding
// the torn bytes again, so a tail cut before a lost tombstone commit does
// not hide its rows. New segments are numbered past the mark's, so the
// number of a segment that was lost is not used again for records the old
// mark would misread.
//
// A damaged record before the durable offset is not looked for at start-up:
// reading its payload fails its CRC (errTorn) and its job dead-letters.
//
// A worker in another process may run jobs before any receiver has
// recovered (it started first, or beside a receiver still recovering). A
// payload it then reads torn may be a record a crash tore before the
// delivery was answered, which recovery will make a tombstone: the job
// waits for the recovery (DB.AwaitsRecovery) instead of dead-lettering it.

// segMark is how far the segments are indexed: the batch just stored ended
// at (seg, end), started at start (the writer's own bookkeeping), and
// (seg, durable) was on disk before it was written.
type segMark struct {
	seg, start, end, durable int64
}

// setMark records m in tx, the transaction of the batch it describes.
func setMark(ctx context.Context, tx *sql.Tx, m segMark) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_segment_mark (id, seg, seg_end, seg_durable) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seg = excluded.seg, seg_end = excluded.seg_end, seg_durable = excluded.seg_durable`,
		m.seg, m.end, m.durable)
	if err != nil {
		return fmt.Errorf("set segment mark: %w", err)
	}
	return nil
}

// Recovery is what NewIntake mended.
type Recovery struct {
	Reinserted int   // deliveries rebuilt from their segment record
	Tombstoned int   // rows whose record was torn or lost (never answered)
	CutBytes   int64 // bytes of torn tails cut from segments
	Corrupt    int   // damaged records that had been synced: kept, and their deliveries dead-letter
}

// scanned is one good record found by recovery. Its payload is not kept,
// only its length, so that reading many segments does not hold them all.
type scanned struct {
	seg, off   int64     // where the record starts
	rec        segRecord // rec.d.Payload is nil
	n          int       // the record's length
	payloadLen int
}

// ref is where the row of r's delivery points.
func (r scanned) ref() payloadRef {
	return payloadRef{seg: r.seg, off: r.off + int64(r.rec.hdrLen), n: int64(r.payloadLen), crc: r.rec.payloadCRC}
}

// tail is the part of the segments a power cut may have damaged: records
// from offset from of segment seg on, and rows whose payload is in seg
// after from or in a later segment. Records from (seg, redo) on may have
// lost their rows. New segments are numbered above floor.
type tail struct {
	seg, from, redo, floor int64
}

// findTail reads the tail from the segment mark. Without a mark no batch of
// the record format is in SQLite, and every row is of the earlier format
// (legacy is then true): the tail is every segment after the newest one a
// row points into, from its start.
func (db *DB) findTail(ctx context.Context) (t tail, legacy bool, err error) {
	var m segMark
	err = db.write.QueryRowContext(ctx, `SELECT seg, seg_end, seg_durable FROM webhook_segment_mark WHERE id = 1`).
		Scan(&m.seg, &m.end, &m.durable)
	if err == nil {
		return tail{seg: m.seg, from: m.durable, redo: m.end, floor: m.seg}, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return t, false, fmt.Errorf("read segment mark: %w", err)
	}
	var newest int64
	if err := db.write.QueryRowContext(ctx, `SELECT COALESCE(max(seg), 0) FROM webhook_delivery`).Scan(&newest); err != nil {
		return t, true, fmt.Errorf("find the newest payload segment in use: %w", err)
	}
	return tail{seg: newest + 1, floor: newest}, true, nil
}

// segScan is what scan found in segment n.
type segScan struct {
	n   int64
	res scanResult
}

// recover mends the segments' tail; see the comment at the top of the file.
// It then releases recovery.lock (segments.lock): workers stop waiting for
// it (DB.AwaitsRecovery). A recovery that fails lets intake.lock go first,
// so that no worker takes it for one that is done.
func (in *Intake) recover(ctx context.Context) (rep Recovery, err error) {
	db := in.db
	defer func() {
		if err != nil {
			_ = in.lock.Close() // NewIntake's own Close of it then does nothing
		}
		db.segs.recovered()
	}()
	t, legacy, err := db.findTail(ctx)
	if err != nil {
		return rep, err
	}
	if legacy {
		// The rows' own segments hold raw payloads, checked as that
		// format asks; the tail after them is read like any other.
		n, err := db.recoverLegacy(ctx, in.opts.Receipts)
		rep.Tombstoned += n
		if err != nil {
			return rep, err
		}
	}
	ns, err := db.segs.list()
	if err != nil {
		return rep, err
	}
	var scans []segScan
	for _, n := range ns {
		if n < t.seg {
			continue
		}
		start := int64(0)
		if n == t.seg {
			start = t.from
		}
		res, err := db.segs.scan(n, start)
		if err != nil {
			return rep, err
		}
		scans = append(scans, segScan{n: n, res: res})
		for _, bad := range res.bad {
			if bad.synced() {
				rep.Corrupt++
			}
		}
	}

	// First the tombstones, durably, before any tail is cut. A start after
	// a second power cut judges the rows again from scratch either way,
	// but this order never leaves a pending row past the end of its file.
	lost, err := db.lostRows(ctx, t, scans)
	if err != nil {
		return rep, err
	}
	if len(lost) > 0 {
		n, err := db.tombstone(ctx, lost, in.opts.Receipts)
		rep.Tombstoned += n
		if err != nil {
			return rep, err
		}
		if err := db.SyncWAL(); err != nil {
			return rep, err
		}
	}

	// Then the segments: what the mark of a rebuilt batch will vouch for
	// must be on disk, whether this process wrote it or a killed one left
	// it in the page cache, and so must the directory entry of a segment
	// the intake had just started.
	var redo []scanned
	for _, sc := range scans {
		if sc.res.cut >= 0 {
			rep.CutBytes += sc.res.size - sc.res.cut
		}
		if err := db.segs.cutAndSync(sc.n, sc.res.cut); err != nil {
			return rep, err
		}
		for _, r := range sc.res.good {
			if r.seg > t.seg || r.off >= t.redo {
				redo = append(redo, r)
			}
		}
	}
	if len(redo) > 0 {
		if err := syncDir(db.segs.dir); err != nil {
			return rep, err
		}
	}
	for lo := 0; lo < len(redo); lo += in.opts.MaxBatch {
		k, err := in.reinsert(ctx, redo[lo:min(lo+in.opts.MaxBatch, len(redo))])
		if err != nil {
			return rep, err
		}
		rep.Reinserted += k
	}
	if len(redo) > 0 {
		if err := db.SyncWAL(); err != nil {
			return rep, err
		}
	}
	db.segs.numberAbove(t.floor)
	return rep, nil
}

// lostRows returns the ids of the rows pointing into the tail whose record
// is not there: they land on no good record and in no damage that had been
// synced (see the top of the file).
func (db *DB) lostRows(ctx context.Context, t tail, scans []segScan) ([]int64, error) {
	type at struct{ seg, off int64 }
	found := map[at]scanned{}
	byN := make(map[int64]scanResult, len(scans))
	for _, sc := range scans {
		byN[sc.n] = sc.res
		for _, r := range sc.res.good {
			found[at{r.seg, r.ref().off}] = r
		}
	}
	rows, err := db.write.QueryContext(ctx, `SELECT id, key, seg, seg_off, seg_len, seg_crc FROM webhook_delivery
		WHERE seg > ? OR (seg = ? AND seg_off > ?)`, t.seg, t.seg, t.from)
	if err != nil {
		return nil, fmt.Errorf("check the rows of the segments' tail: %w", err)
	}
	defer rows.Close()
	var lost []int64
	for rows.Next() {
		var id int64
		var key string
		var ref payloadRef
		if err := rows.Scan(&id, &key, &ref.seg, &ref.off, &ref.n, &ref.crc); err != nil {
			return nil, fmt.Errorf("check the rows of the segments' tail: %w", err)
		}
		if r, ok := found[at{ref.seg, ref.off}]; ok && r.ref() == ref && r.rec.d.Key == key {
			continue
		}
		if byN[ref.seg].inSyncedDamage(ref.off) {
			continue
		}
		lost = append(lost, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check the rows of the segments' tail: %w", err)
	}
	return lost, nil
}

// reinsert stores the rows and jobs of records SQLite lost, and audits them
// as recovered before they commit: the new ones, and the duplicates too
// (answered 202 at their sync, their receipt was to come with the
// transaction a crash lost; found in review).
func (in *Intake) reinsert(ctx context.Context, recs []scanned) (int, error) {
	// As tombstone: a signal must not split the "recovered" records from
	// the commit they describe.
	ctx = context.WithoutCancel(ctx)
	batch := make([]*intakeReq, len(recs))
	refs := make([]payloadRef, len(recs))
	for i, r := range recs {
		batch[i] = &intakeReq{d: r.rec.d}
		refs[i] = r.ref()
	}
	last := recs[len(recs)-1]
	end := last.off + int64(last.n)
	mark := segMark{seg: last.seg, start: last.off, end: end, durable: end}
	n := 0
	err := in.store(ctx, batch, refs, mark, func() error {
		var rs []Receipt
		n = 0
		for i, r := range batch {
			rs = append(rs, Receipt{Delivery: r.d, Bytes: recs[i].payloadLen, Enqueued: r.res, Recovered: true})
			if !r.res.Duplicate {
				n++
			}
		}
		if in.opts.Receipts == nil || len(rs) == 0 {
			return nil
		}
		if err := in.opts.Receipts(ctx, rs); err != nil {
			return fmt.Errorf("recover deliveries: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recover deliveries: %w", err)
	}
	return n, nil
}

// OutcomeTorn is the outcome of a tombstone: a row whose payload record a
// crash lost before the delivery was answered (see tombstone).
const OutcomeTorn = "torn"

// tombstone turns the rows with the given ids into tombstones, in one
// transaction, and returns how many: their payload is lost and they were
// never answered, so their key is freed for the provider's retry, and their
// id stays taken because a queued job may still name it (the job skips a
// processed row). explain, if set, is given the tombstoned deliveries
// (Receipt.Torn) before the transaction commits, for the audit log: the
// delivery's "received" record may have survived the crash, and without
// a record of the tombstone the log would show it received and then
// never handled, and the retry received again as new. Its error fails
// the recovery.
func (db *DB) tombstone(ctx context.Context, ids []int64, explain func(context.Context, []Receipt) error) (int, error) {
	// Not cancelled by a signal once begun (a few statements): a SIGTERM
	// between the records and the commit rolled the tombstones back, so
	// the log said they happened, and the next start said so again.
	ctx = context.WithoutCancel(ctx)
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("mark deliveries with a torn payload: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var torn []Receipt
	if explain != nil {
		if torn, err = tornReceipts(ctx, tx, ids); err != nil {
			return 0, err
		}
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE webhook_delivery
		SET key = 'torn:' || id || ':' || key, state = 'processed', outcome = '`+OutcomeTorn+`', processed_at = ?,
		    last_error = 'payload lost in a crash before the delivery was answered', seg = NULL
		WHERE id = ? AND seg IS NOT NULL`)
	if err != nil {
		return 0, fmt.Errorf("mark deliveries with a torn payload: %w", err)
	}
	defer stmt.Close()
	now := db.now().UnixMilli()
	n := 0
	for _, id := range ids {
		res, err := stmt.ExecContext(ctx, now, id)
		if err != nil {
			return 0, fmt.Errorf("mark delivery %d with a torn payload: %w", id, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("mark delivery %d with a torn payload: %w", id, err)
		}
		n += int(k)
	}
	if len(torn) > 0 {
		if err := explain(ctx, torn); err != nil {
			return 0, fmt.Errorf("mark deliveries with a torn payload: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("mark deliveries with a torn payload: %w", err)
	}
	return n, nil
}

// tornReceipts reads, before tombstone changes them, the deliveries of ids
// that it will tombstone.
func tornReceipts(ctx context.Context, tx *sql.Tx, ids []int64) ([]Receipt, error) {
	var out []Receipt
	for _, id := range ids {
		r := Receipt{Torn: true, Enqueued: Enqueued{ID: id}}
		var received int64
		err := tx.QueryRowContext(ctx, `SELECT key, provider, event_type, target, content_type, received_at
			FROM webhook_delivery WHERE id = ? AND seg IS NOT NULL`, id).
			Scan(&r.Delivery.Key, &r.Delivery.Provider, &r.Delivery.EventType, &r.Delivery.Target, &r.Delivery.ContentType, &received)
		if errors.Is(err, sql.ErrNoRows) {
			continue // not one tombstone changes
		}
		if err != nil {
			return nil, fmt.Errorf("read delivery %d with a torn payload: %w", id, err)
		}
		r.Delivery.ReceivedAt = time.UnixMilli(received)
		out = append(out, r)
	}
	return out, nil
}

// badRange is a damaged stretch of a segment followed by a good record.
type badRange struct {
	from, to int64
	// durable is the largest durable offset of the good records after it:
	// the segment was synced that far when the last of them was written.
	// Each record carries the offset synced when its batch was written, so
	// a record of a batch written while the one before it was syncing
	// carries an older one than a later batch's.
	durable int64
}

// synced reports whether some of the damaged bytes had been synced.
func (b badRange) synced() bool { return b.durable > b.from }

// scanResult is what scan found in one segment from its start offset on.
type scanResult struct {
	good []scanned
	bad  []badRange
	cut  int64 // a torn tail starts here; -1 when there is none
	size int64
}

// inSyncedDamage reports whether the payload at off belongs to a record
// inside damage that had been synced (records never straddle a durable
// offset: it is always the end of a batch).
func (res scanResult) inSyncedDamage(off int64) bool {
	for _, b := range res.bad {
		if off > b.from && off <= b.to {
			return off <= b.durable
		}
	}
	return false
}

// scan reads segment n from start to its end and sorts its bytes into good
// records, damaged stretches followed by a good record, and a torn tail. A
// file that does not start with a record of this format is left alone.
func (s *segments) scan(n, start int64) (scanResult, error) {
	res := scanResult{cut: -1}
	f, err := os.Open(s.path(n))
	if errors.Is(err, os.ErrNotExist) {
		return res, nil // pruned
	}
	if err != nil {
		return res, fmt.Errorf("recover payload segment %d: %w", n, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("recover payload segment %d: %w", n, err)
	}
	res.size = st.Size()
	if res.size <= start {
		return res, nil
	}
	if start == 0 {
		var head [len(recordMagic)]byte
		if _, err := f.ReadAt(head[:], 0); err == nil && head != recordMagic && head != [len(recordMagic)]byte{} {
			return res, nil // not ours (an earlier format): nothing to recover in it
		}
	}
	buf := make([]byte, res.size-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("recover payload segment %d: %w", n, err)
	}
	for pos := 0; pos < len(buf); {
		rec, k, err := decodeRecord(buf[pos:])
		if err == nil {
			sc := scanned{seg: n, off: start + int64(pos), rec: rec, n: k, payloadLen: len(rec.d.Payload)}
			sc.rec.d.Payload = nil // let buf go
			res.good = append(res.good, sc)
			pos += k
			continue
		}
		next := resync(buf, pos+1)
		if next < 0 {
			res.cut = start + int64(pos)
			break
		}
		res.bad = append(res.bad, badRange{from: start + int64(pos), to: start + int64(next), durable: -1})
		pos = next
	}
	// Whether damage had been synced is told by every good record after
	// it, not just the next one.
	durable, g := int64(-1), len(res.good)-1
	for i := len(res.bad) - 1; i >= 0; i-- {
		for ; g >= 0 && res.good[g].off >= res.bad[i].to; g-- {
			durable = max(durable, res.good[g].rec.durable)
		}
		res.bad[i].durable = durable
	}
	return res, nil
}

// resync returns the offset in buf, from at on, of the next record that
// decodes, or -1.
func resync(buf []byte, at int) int {
	for at < len(buf) {
		i := bytes.Index(buf[at:], recordMagic[:])
		if i < 0 {
			return -1
		}
		if _, _, err := decodeRecord(buf[at+i:]); err == nil {
			return at + i
		}
		at += i + 1
	}
	return -1
}

// cutAndSync cuts segment n at cut (when >= 0) and fdatasyncs it.
func (s *segments) cutAndSync(n, cut int64) error {
	f, err := os.OpenFile(s.path(n), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recover payload segment %d: %w", n, err)
	}
	defer f.Close()
	if cut >= 0 {
		if err := f.Truncate(cut); err != nil {
			return fmt.Errorf("cut the torn tail of payload segment %d: %w", n, err)
		}
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("sync payload segment %d: %w", n, err)
	}
	return nil
}

// lock takes the flock that makes the caller the segments' only writer
// (intake.lock), and, before it, recovery.lock, which the caller's recover
// releases once it is done: while a receiver holds the one without the
// other, it has recovered the segments (see receiverRecovered). recovery.lock
// is waited for, not tried: a worker holds it shared for an instant to look,
// and a second receiver waits for the first one's recovery and is then
// refused by intake.lock.
func (s *segments) lock() (*os.File, error) {
	rec, err := s.openLock(recoveryLock)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(rec.Fd()), syscall.LOCK_EX); err != nil {
		_ = rec.Close()
		return nil, fmt.Errorf("recovery lock: %w", err)
	}
	f, err := s.openLock(intakeLock)
	if err != nil {
		_ = rec.Close()
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		_ = rec.Close()
		return nil, fmt.Errorf("intake lock %s (is another receiver running on this DATA_DIR?): %w", f.Name(), err)
	}
	s.mu.Lock()
	s.recovering = rec
	s.mu.Unlock()
	return f, nil
}

// The lock files in the segments' directory.
const (
	intakeLock   = "intake.lock"   // held by the receiver for its whole life
	recoveryLock = "recovery.lock" // held by a receiver from before intake.lock until its recovery is done
)

func (s *segments) openLock(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// recovered releases recovery.lock, taken by lock: the recovery is over.
func (s *segments) recovered() {
	s.mu.Lock()
	rec := s.recovering
	s.recovering = nil
	s.mu.Unlock()
	if rec != nil {
		_ = rec.Close()
	}
}

// receiverRecovered reports whether a receiver holds the segments and has
// finished recovering them. It only looks: it never keeps a receiver from
// starting. With recovery.lock held shared no receiver is between taking
// intake.lock and finishing its recovery (it takes recovery.lock first and
// keeps it until then), so intake.lock being held then means its holder
// has recovered, and trying intake.lock cannot refuse a receiver starting.
func (s *segments) receiverRecovered() (bool, error) {
	rec, err := s.openLock(recoveryLock)
	if err != nil {
		return false, err
	}
	defer rec.Close()
	if err := syscall.Flock(int(rec.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // a receiver is recovering
		}
		return false, fmt.Errorf("%s: %w", recoveryLock, err)
	}
	in, err := s.openLock(intakeLock)
	if err != nil {
		return false, err
	}
	defer in.Close() // before rec: no receiver may take intake.lock while this one holds it
	if err := syscall.Flock(int(in.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("%s: %w", intakeLock, err)
	}
	return false, nil // no receiver: the next one recovers before it takes a delivery
}

// AwaitsRecovery reports whether delivery id, whose payload read torn,
// must wait for a receiver's recovery instead of being dead-lettered. Until
// a receiver has recovered the segments the torn record may be one a crash
// left unanswered: recovery makes its row a tombstone and the provider's
// retry is stored anew, so dead-lettering it would put in `webhooks dead`
// and the audit trail a delivery that never was, and replaying it would
// dead-letter it again. Once a receiver has recovered, a torn payload of a
// row still pending is damage to an answered record: false, and it is
// dead-lettered at once, as before. A row that is no longer pending (made
// a tombstone by a recovery that ended after its payload was read) is
// reported true, so that its job looks again and finds nothing to run.
func (db *DB) AwaitsRecovery(ctx context.Context, id int64) (bool, error) {
	recovered, err := db.segs.receiverRecovered()
	if err != nil {
		return false, fmt.Errorf("delivery %d: has a receiver recovered the payload segments: %w", id, err)
	}
	if !recovered {
		return true, nil
	}
	// The payload may have been read before the recovery made the row a
	// tombstone: let the job look again rather than dead-letter it.
	var pending bool
	err = db.read.QueryRowContext(ctx, `SELECT state = 'pending' FROM webhook_delivery WHERE id = ?`, id).Scan(&pending)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("delivery %d: has a receiver recovered its payload: %w", id, err)
	}
	return !pending, nil
}
