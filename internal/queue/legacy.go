package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// recoverLegacy is the start-up check of the rows of the earlier format,
// whose segments hold raw payloads (before segment records and the mark,
// migration 3). It runs only while there is no mark, when every row is of
// that format; segments of the record format after them are recovered
// from their records (recover.go). That format synced the WAL before the
// segment, so a row could survive whose payload did not reach the disk; it
// was never answered. Rows are checked only in the newest segment any row
// points into, walking ids downwards (segment numbers grow with ids); those
// whose payload is torn become tombstones (see recover.go), and that
// segment is then synced. New batches always go to a new segment in the
// record format.
func (db *DB) recoverLegacy(ctx context.Context, explain func(context.Context, []Receipt) error) (int, error) {
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
	var torn []int64
	for i, r := range refs {
		if _, err := db.segs.read(r); errors.Is(err, errTorn) {
			torn = append(torn, ids[i])
		} else if err != nil {
			return 0, fmt.Errorf("check payloads: %w", err)
		}
	}
	n := 0
	if len(torn) > 0 {
		if n, err = db.tombstone(ctx, torn, explain); err != nil {
			return n, err
		}
		if err := db.SyncWAL(); err != nil {
			return n, err
		}
	}
	return n, syncFile(db.segs.path(refs[0].seg))
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
