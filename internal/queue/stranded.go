package queue

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// strandedSQL selects the pending deliveries that no River job that may
// still run names: their job ended without recording an outcome, and only
// a replay runs them again. The ids the live jobs name are gathered once
// (liveIDsCTE, with no job excepted), so the query stays linear in the
// backlog, which during a burst holds many pending deliveries and many
// batch jobs.
const strandedSQL = liveIDsCTE + `
SELECT ` + deliveryColumns + ` FROM webhook_delivery
WHERE state = 'pending' AND id NOT IN (SELECT id FROM live WHERE id IS NOT NULL)
ORDER BY id`

// Stranded lists the pending deliveries that no job will run: a job that
// ran out of attempts while the store itself was failing could not
// dead-letter them (the worker logs that), so they are neither queued nor
// among the dead letters. `webhooks dead` shows them and `webhooks replay`
// takes them.
func (db *DB) Stranded(ctx context.Context) ([]Delivery, error) {
	rows, err := db.read.QueryContext(ctx, strandedSQL, QueueName, DeliveryArgs{}.Kind(), BatchArgs{}.Kind(), 0)
	if err != nil {
		return nil, fmt.Errorf("list stranded deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list stranded deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stranded deliveries: %w", err)
	}
	return out, nil
}

// liveIDsCTE is the ids the River jobs that may still run name, other than
// job ?4: gathered once per statement, so that a give-up or a listing costs
// one pass over the live jobs, not one per delivery. A job of a delivery's
// earlier life runs nothing (see DeliveryArgs.Life), so it is not counted.
const liveIDsCTE = `WITH live(id) AS (
	SELECT json_extract(j.args, '$.id') FROM river_job j
	WHERE j.queue = ?1 AND j.kind = ?2 AND j.id <> ?4 AND j.state IN ` + liveJobStates + `
	AND ` + deliveryJobOfCurrentLife + `
	UNION ALL
	SELECT e.value FROM river_job j, json_each(j.args, '$.ids') e
	WHERE j.queue = ?1 AND j.kind = ?3 AND j.id <> ?4 AND j.state IN ` + liveJobStates + `
	AND ` + batchEntryOfCurrentLife + `
)`

// deliveryJobOfCurrentLife is true of a delivery job j that would run its
// delivery, as the worker decides (runDelivery): its Life is the
// delivery's replays plus one, or 0 (a job made before Life was recorded).
const deliveryJobOfCurrentLife = `coalesce(json_extract(j.args, '$.life'), 0) IN (0,
	(SELECT d.replays + 1 FROM webhook_delivery d WHERE d.id = json_extract(j.args, '$.id')))`

// batchEntryOfCurrentLife is true of an entry e of a batch job's ids whose
// delivery the job would run (runBatch): one never replayed.
const batchEntryOfCurrentLife = `(SELECT d.replays FROM webhook_delivery d WHERE d.id = e.value) = 0`

// LiveJobIDs returns the delivery ids that a River job that may still run,
// other than exceptJob (0: none), names.
func (db *DB) LiveJobIDs(ctx context.Context, exceptJob int64) (map[int64]bool, error) {
	rows, err := db.read.QueryContext(ctx, liveIDsCTE+` SELECT id FROM live WHERE id IS NOT NULL`,
		QueueName, DeliveryArgs{}.Kind(), BatchArgs{}.Kind(), exceptJob)
	if err != nil {
		return nil, fmt.Errorf("list queued deliveries: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list queued deliveries: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list queued deliveries: %w", err)
	}
	return out, nil
}

// DeadLetterStrandedIDs dead-letters, inside tx, those of ids that are
// still pending and that no River job other than job will run: job is ending
// on its last attempt without having recorded their outcome, and left
// pending they would never run again nor show among the dead letters.
// attempts is left alone (the handler's attempts are what it counts). One
// statement and one pass over the live jobs, inside tx so no job can slip
// in between the check and the update. It returns how many were
// dead-lettered.
func (db *DB) DeadLetterStrandedIDs(ctx context.Context, tx *sql.Tx, ids []int64, job int64, errText string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	args := []any{QueueName, DeliveryArgs{}.Kind(), BatchArgs{}.Kind(), job, errText}
	in := make([]string, len(ids))
	for i, id := range ids {
		in[i] = "?" + strconv.Itoa(6+i)
		args = append(args, id)
	}
	res, err := tx.ExecContext(ctx, liveIDsCTE+` UPDATE webhook_delivery SET state = 'dead', last_error = ?5
		WHERE id IN (`+strings.Join(in, ",")+`) AND state = 'pending'
		AND id NOT IN (SELECT id FROM live WHERE id IS NOT NULL)`, args...)
	if err != nil {
		return 0, fmt.Errorf("dead-letter stranded deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("dead-letter stranded deliveries: %w", err)
	}
	return n, nil
}
