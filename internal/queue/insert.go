package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

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
