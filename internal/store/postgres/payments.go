package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

var _ payments.Ledger = (*Payments)(nil)

// advanceObject moves an object's newest event forward only if this one is
// newer by (created, rank of its type, event id): events sharing a second
// follow their object's life (payments.Rank), and only those of equal rank
// fall back to the id. All three are kept in the object's row, so the
// comparison is made against the row the upsert locked, which may be newer
// than the statement's snapshot.
var advanceObject = `INSERT INTO payment_objects (object_id, last_event_created, last_event_id, last_event_type)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (object_id) DO UPDATE SET
		last_event_created = excluded.last_event_created, last_event_id = excluded.last_event_id,
		last_event_type = excluded.last_event_type
	WHERE (excluded.last_event_created, ` + payments.RankSQL("excluded.last_event_type") + `, excluded.last_event_id)
		> (payment_objects.last_event_created, ` + payments.RankSQL("payment_objects.last_event_type") + `,
			payment_objects.last_event_id)`

// Payments is the payments ledger. It implements payments.Ledger.
type Payments struct {
	pool *pgxpool.Pool
}

// Record adds e to the ledger once. A second Record of the same event id
// changes nothing: it is Earlier when e.By booked the event, else a
// Duplicate, and its Stale repeats the first Record's (payments.Repeat). An
// event older than one already applied to the same object is recorded
// (Recorded and Stale both true) but not applied, so a late delivery never
// rolls the object back. It runs at READ COMMITTED whatever the server's
// default (see readCommitted): the upsert that moves an object forward must
// see, once it got the row lock, the row a concurrent Record committed.
func (p *Payments) Record(ctx context.Context, e payments.Event) (payments.Outcome, error) {
	var out payments.Outcome
	err := pgx.BeginTxFunc(ctx, p.pool, readCommitted, func(tx pgx.Tx) error {
		out = payments.Outcome{}
		// A concurrent Record of the same id waits here on the primary key
		// until this transaction ends, then does nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO payments
			(event_id, type, object_id, customer, email, amount, currency, created, livemode, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (event_id) DO NOTHING`,
			e.ID, e.Type, e.ObjectID, e.Customer, e.Email, e.Amount, e.Currency, e.Created, e.Livemode, e.By)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			// A statement of its own, not a RETURNING or a CTE of the insert:
			// under READ COMMITTED it takes a new snapshot, so it sees the row
			// of a concurrent Record that the insert waited for. That row, its
			// booker and its stale flag were committed together.
			var (
				stale bool
				by    string
			)
			if err := tx.QueryRow(ctx, `SELECT stale, recorded_by FROM payments WHERE event_id = $1`, e.ID).
				Scan(&stale, &by); err != nil {
				return fmt.Errorf("read the recorded event: %w", err)
			}
			out = payments.Repeat(e, by, stale)
			return nil
		}
		out.Recorded = true
		if e.ObjectID == "" {
			return nil // an event about no object has nothing to order against
		}
		// The upsert locks the object's row, so events of one object apply
		// one at a time.
		tag, err = tx.Exec(ctx, advanceObject, e.ObjectID, e.Created, e.ID, e.Type)
		if err != nil {
			return fmt.Errorf("order against %s: %w", e.ObjectID, err)
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE payments SET stale = true WHERE event_id = $1`, e.ID); err != nil {
			return fmt.Errorf("mark stale: %w", err)
		}
		out.Stale = true
		return nil
	})
	if err != nil {
		return payments.Outcome{}, fmt.Errorf("record event %s: %w", e.ID, err)
	}
	return out, nil
}

// Get returns a recorded event, with who booked it (By).
func (p *Payments) Get(ctx context.Context, eventID string) (payments.Event, bool, error) {
	var e payments.Event
	err := p.pool.QueryRow(ctx, `SELECT event_id, type, object_id, customer, email, amount, currency, created, livemode,
		recorded_by FROM payments WHERE event_id = $1`, eventID).
		Scan(&e.ID, &e.Type, &e.ObjectID, &e.Customer, &e.Email, &e.Amount, &e.Currency, &e.Created, &e.Livemode, &e.By)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return payments.Event{}, false, nil
	case err != nil:
		return payments.Event{}, false, fmt.Errorf("get event %s: %w", eventID, err)
	}
	e.Created = e.Created.UTC()
	return e, true, nil
}
