package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// recoverLegacy is the start-up check of a database whose segments hold
// raw payloads (before segment records and the mark, migration 3). That
// format synced the WAL before the segment, so a row could survive whose
// payload did not reach the disk; it was never answered. Rows are checked
// only in the newest segment any row points into, walking ids downwards
// (segment numbers grow with ids); those whose payload is torn become
// tombstones (see recover.go), and that segment is then synced. New batches
// always go to a new segment in the new format.
func (db *DB) recoverLegacy(ctx context.Context) (int, error) {
	rows, err := db.write.QueryContext(ctx, `SELECT id, seg, seg_off, seg_len, seg_crc FROM webhook_delivery
		WHERE seg IS NOT NULL ORDER BY id DESC`)
	if err != nil {
		return 0, fmt.Errorf("check payloads: %w", err)
	}
	var refs []payloadRef
	var ids []int64
	for rows.Next() {
		var id int64
		var r payloadRef
		if err := rows.Scan(&id, &r.seg, &r.off, &r.n, &r.crc); err != nil {
			rows.Close()
			return 0, fmt.Errorf("check payloads: %w", err)
		}
		if len(refs) > 0 && r.seg != refs[0].seg {
			break
		}
		refs, ids = append(refs, r), append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("check payloads: %w", err)
	}
	if len(refs) == 0 {
		return 0, nil
	}
	torn := 0
	for i, r := range refs {
		if _, err := db.segs.read(r); errors.Is(err, errTorn) {
			n, err := db.tombstone(ctx, `id = ?`, ids[i])
			if err != nil {
				return torn, err
			}
			torn += n
		} else if err != nil {
			return torn, fmt.Errorf("check payloads: %w", err)
		}
	}
	if torn > 0 {
		if err := db.SyncWAL(); err != nil {
			return torn, err
		}
	}
	return torn, syncFile(db.segs.path(refs[0].seg))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // every row into it was torn
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
