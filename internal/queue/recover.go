package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// recoverPayloads deletes the rows whose payload did not reach the disk
// before a crash (see payloads.go): such a row was never answered, and the
// provider's retry stores the delivery anew. Rows are checked only in the
// newest segment any row points into, walking ids downwards (segment
// numbers grow with ids), and that segment is then synced, so a later start
// need not check it again against a cache that a power cut could lose.
func (db *DB) recoverPayloads(ctx context.Context) error {
	rows, err := db.write.QueryContext(ctx, `SELECT id, seg, seg_off, seg_len, seg_crc FROM webhook_delivery
		WHERE seg IS NOT NULL ORDER BY id DESC`)
	if err != nil {
		return fmt.Errorf("check payloads: %w", err)
	}
	var refs []payloadRef
	var ids []int64
	for rows.Next() {
		var id int64
		var r payloadRef
		if err := rows.Scan(&id, &r.seg, &r.off, &r.n, &r.crc); err != nil {
			rows.Close()
			return fmt.Errorf("check payloads: %w", err)
		}
		if len(refs) > 0 && r.seg != refs[0].seg {
			break
		}
		refs, ids = append(refs, r), append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check payloads: %w", err)
	}
	if len(refs) == 0 {
		return nil
	}
	var torn []int64
	for i, r := range refs {
		if _, err := db.segs.read(r); errors.Is(err, errTorn) {
			torn = append(torn, ids[i])
		} else if err != nil {
			return fmt.Errorf("check payloads: %w", err)
		}
	}
	for _, id := range torn {
		// Its job, if any, finds no delivery and skips it.
		if _, err := db.write.ExecContext(ctx, `DELETE FROM webhook_delivery WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete delivery %d with a torn payload: %w", id, err)
		}
	}
	if len(torn) > 0 {
		if err := db.SyncWAL(); err != nil {
			return err
		}
	}
	return syncFile(db.segs.path(refs[0].seg))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // every row into it was torn and is deleted
	}
	if err != nil {
		return fmt.Errorf("sync payload segment: %w", err)
	}
	defer f.Close()
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("sync payload segment %s: %w", path, err)
	}
	return nil
}

// loadPayload fills d.Payload from its segment when the row keeps it there.
func (db *DB) loadPayload(d *Delivery, seg sql.NullInt64, off, n int64, crc uint32) error {
	if !seg.Valid {
		return nil
	}
	p, err := db.segs.read(payloadRef{seg: seg.Int64, off: off, n: n, crc: crc})
	if err != nil {
		return fmt.Errorf("delivery %d: %w", d.ID, err)
	}
	d.Payload = p
	return nil
}

// minSegment returns the oldest segment any row points into, or false.
func (db *DB) minSegment(ctx context.Context) (int64, bool, error) {
	var seg sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT seg FROM webhook_delivery WHERE seg IS NOT NULL ORDER BY id LIMIT 1`).Scan(&seg)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("oldest payload segment: %w", err)
	}
	return seg.Int64, seg.Valid, nil
}

// SyncPayloads makes the payloads appended so far durable, as SyncWAL does
// for the rows; it does nothing under Options.Synchronous "NORMAL".
func (db *DB) SyncPayloads() error {
	if !db.fullSync {
		return nil
	}
	if err := db.segs.Sync(); err != nil {
		return fmt.Errorf("sync webhook payloads: %w", err)
	}
	return nil
}
