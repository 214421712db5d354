package queue

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// What a crash leaves, and how NewIntake mends it.
//
// An intake batch is: records appended to the segment, then one SQLite
// transaction (rows, jobs, and the segment mark: how far the segments are
// indexed), then one fdatasync of the segment, then the answers. The WAL is
// not synced per batch (synchronous=NORMAL), so after a power cut:
//
//   - SQLite holds a prefix of its commits (the WAL is replayed up to its
//     first bad frame), and the mark row is that prefix's last batch. Every
//     record past the mark was appended after it: if it was answered, the
//     segment was synced past it, so it is intact on disk, and recovery
//     inserts its row and job again (ON CONFLICT on the key does nothing for
//     a duplicate's record), with its original received_at, and hands it to
//     Receipts as Recovered.
//   - A row may survive whose record did not (the WAL reached the disk, the
//     segment's pages did not): it was never answered. Recovery turns it
//     into a tombstone (state processed, outcome "torn", key freed, no
//     payload) so the provider's retry is stored anew; a tombstone keeps its
//     id, which a queued job may still name, from being reused.
//
// Only records from the mark's durable offset on can be affected (the
// segment was synced up to there before the mark's transaction), plus later
// segments (a segment is synced whole before the next is started), so
// start-up reads just that tail. In it, a record that fails to decode at V:
//
//   - with no good record after it: a torn tail. Rows pointing at V or later
//     become tombstones and the file is cut at V.
//   - with a good record R after it: damage in the middle. If R says the
//     segment was synced past V when R was written, the damaged bytes had
//     been on disk and their deliveries answered: their rows are kept (their
//     payload cannot be read, so their jobs dead-letter where an operator
//     sees them) and Recovery.Corrupt counts them. Otherwise it was a torn
//     write that the kernel wrote back out of order, never answered: its
//     rows become tombstones. Either way recovery goes on at R.
//
// A damaged record before the durable offset is not looked for at start-up:
// reading its payload fails its CRC (errTorn) and its job dead-letters.

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
	Tombstoned int   // rows whose record was torn (never answered)
	CutBytes   int64 // bytes of torn tails cut from segments
	Corrupt    int   // damaged records that had been synced: kept, and their deliveries dead-letter
}

// scanned is one good record found by recovery.
type scanned struct {
	seg, off int64 // where the record starts
	rec      segRecord
	n        int
}

// recover mends the segments' tail; see the comment at the top of the file.
func (in *Intake) recover(ctx context.Context) (Recovery, error) {
	db := in.db
	var rep Recovery
	var m segMark
	err := db.write.QueryRowContext(ctx, `SELECT seg, seg_end, seg_durable FROM webhook_segment_mark WHERE id = 1`).
		Scan(&m.seg, &m.end, &m.durable)
	if errors.Is(err, sql.ErrNoRows) {
		// No batch was stored in this format yet: only the check of the
		// earlier format (raw payloads, WAL synced per batch) applies.
		n, err := db.recoverLegacy(ctx)
		rep.Tombstoned = n
		return rep, err
	}
	if err != nil {
		return rep, fmt.Errorf("read segment mark: %w", err)
	}
	ns, err := db.segs.list()
	if err != nil {
		return rep, err
	}
	var redo []scanned
	changed := false
	for _, n := range ns {
		if n < m.seg {
			continue
		}
		start := int64(0)
		if n == m.seg {
			start = m.durable
		}
		res, err := db.segs.scan(n, start)
		if err != nil {
			return rep, err
		}
		for _, bad := range res.bad {
			if bad.synced {
				rep.Corrupt++
				continue
			}
			k, err := db.tombstone(ctx, `seg = ? AND seg_off >= ? AND seg_off < ?`, n, bad.from, bad.to)
			if err != nil {
				return rep, err
			}
			rep.Tombstoned += k
			changed = changed || k > 0
		}
		if res.cut >= 0 {
			k, err := db.tombstone(ctx, `seg = ? AND seg_off >= ?`, n, res.cut)
			if err != nil {
				return rep, err
			}
			rep.Tombstoned += k
			changed = changed || k > 0
			rep.CutBytes += res.size - res.cut
		}
		for _, r := range res.good {
			if n > m.seg || r.off >= m.end {
				redo = append(redo, r)
			}
		}
		// What the mark will vouch for must be on disk, whether this
		// process wrote it or a killed one left it in the page cache.
		if err := db.segs.cutAndSync(n, res.cut); err != nil {
			return rep, err
		}
	}
	if len(redo) > 0 || changed {
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
		changed = true
	}
	if changed {
		if err := db.SyncWAL(); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// reinsert stores the rows and jobs of records SQLite lost, and audits the
// new ones as recovered before they commit.
func (in *Intake) reinsert(ctx context.Context, recs []scanned) (int, error) {
	batch := make([]*intakeReq, len(recs))
	refs := make([]payloadRef, len(recs))
	for i, r := range recs {
		batch[i] = &intakeReq{d: r.rec.d}
		refs[i] = payloadRef{seg: r.seg, off: r.off + int64(r.rec.hdrLen), n: int64(len(r.rec.d.Payload)), crc: r.rec.payloadCRC}
	}
	last := recs[len(recs)-1]
	end := last.off + int64(last.n)
	mark := segMark{seg: last.seg, start: last.off, end: end, durable: end}
	n := 0
	err := in.store(ctx, batch, refs, mark, func() error {
		var rs []Receipt
		for _, r := range batch {
			if !r.res.Duplicate {
				d := r.d
				d.Payload = nil
				rs = append(rs, Receipt{Delivery: d, Bytes: len(r.d.Payload), Enqueued: r.res, Recovered: true})
			}
		}
		n = len(rs)
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

// tombstone turns the rows matching where into tombstones and returns how
// many: their payload is lost and they were never answered, so their key is
// freed for the provider's retry, and their id stays taken because a queued
// job may still name it (the job skips a processed row).
func (db *DB) tombstone(ctx context.Context, where string, args ...any) (int, error) {
	args = append([]any{db.now().UnixMilli()}, args...)
	res, err := db.write.ExecContext(ctx, `UPDATE webhook_delivery
		SET key = 'torn:' || id || ':' || key, state = 'processed', outcome = 'torn', processed_at = ?,
		    last_error = 'payload lost in a crash before the delivery was answered', seg = NULL
		WHERE `+where, args...)
	if err != nil {
		return 0, fmt.Errorf("mark deliveries with a torn payload: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark deliveries with a torn payload: %w", err)
	}
	return int(n), nil
}

// badRange is a damaged stretch of a segment followed by a good record.
type badRange struct {
	from, to int64
	synced   bool // the good record after it says the segment was synced past from
}

// scanResult is what scan found in one segment from its start offset on.
type scanResult struct {
	good []scanned
	bad  []badRange
	cut  int64 // a torn tail starts here; -1 when there is none
	size int64
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
	buf := make([]byte, res.size-start)
	if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return res, fmt.Errorf("recover payload segment %d: %w", n, err)
	}
	if start == 0 && len(buf) >= 4 && !bytes.HasPrefix(buf, recordMagic[:]) && !bytes.Equal(buf[:4], make([]byte, 4)) {
		return res, nil // not ours (an earlier format): nothing to recover in it
	}
	for pos := 0; pos < len(buf); {
		rec, k, err := decodeRecord(buf[pos:])
		if err == nil {
			res.good = append(res.good, scanned{seg: n, off: start + int64(pos), rec: rec, n: k})
			pos += k
			continue
		}
		next, nrec := resync(buf, pos+1)
		if next < 0 {
			res.cut = start + int64(pos)
			break
		}
		from := start + int64(pos)
		res.bad = append(res.bad, badRange{from: from, to: start + int64(next), synced: nrec.durable > from})
		pos = next
	}
	return res, nil
}

// resync returns the offset in buf, from at on, of the next record that
// decodes, or -1.
func resync(buf []byte, at int) (int, segRecord) {
	for at < len(buf) {
		i := bytes.Index(buf[at:], recordMagic[:])
		if i < 0 {
			return -1, segRecord{}
		}
		if rec, _, err := decodeRecord(buf[at+i:]); err == nil {
			return at + i, rec
		}
		at += i + 1
	}
	return -1, segRecord{}
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

// lock takes the flock that makes the caller the segments' only writer.
func (s *segments) lock() (*os.File, error) {
	path := s.dir + "/intake.lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("intake lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("intake lock %s (is another receiver running on this DATA_DIR?): %w", path, err)
	}
	return f, nil
}
