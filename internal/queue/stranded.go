package queue

import (
	"context"
	"fmt"
)

// strandedSQL selects the pending deliveries that no River job that may
// still run names (see liveJobNames): their job ended without recording an
// outcome, and only a replay runs them again. The ids the live jobs name
// are gathered once, so the query stays linear in the backlog, which during
// a burst holds many pending deliveries and many batch jobs.
const strandedSQL = `WITH live(id) AS (
	SELECT json_extract(j.args, '$.id') FROM river_job j
	WHERE j.queue = ?1 AND j.kind = ?2 AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
	UNION ALL
	SELECT e.value FROM river_job j, json_each(j.args, '$.ids') e
	WHERE j.queue = ?1 AND j.kind = ?3 AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
)
SELECT ` + deliveryColumns + ` FROM webhook_delivery
WHERE state = 'pending' AND id NOT IN (SELECT id FROM live WHERE id IS NOT NULL)
ORDER BY id`

// Stranded lists the pending deliveries that no job will run: a job that
// ran out of attempts while the store itself was failing could not
// dead-letter them (the worker logs that), so they are neither queued nor
// among the dead letters. `webhooks dead` shows them and `webhooks replay`
// takes them.
func (db *DB) Stranded(ctx context.Context) ([]Delivery, error) {
	rows, err := db.read.QueryContext(ctx, strandedSQL, QueueName, DeliveryArgs{}.Kind(), BatchArgs{}.Kind())
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
