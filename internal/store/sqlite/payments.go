package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

var _ payments.Ledger = (*Payments)(nil)

// Payments is the payments ledger. It implements payments.Ledger.
type Payments struct {
	db                                        *DB
	insert, advance, markStale, recorded, get *sql.Stmt
}

func newPayments(ctx context.Context, db *DB) (*Payments, error) {
	w, err := db.w.prepare(ctx,
		`INSERT INTO payments (event_id, type, object_id, customer, email, amount, currency, created, livemode, recorded_at, stale,
			recorded_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
		ON CONFLICT (event_id) DO NOTHING`,
		// Move the object's newest event forward, only if this one is newer:
		// (created, rank of its type, event id), so that events sharing a
		// second follow their object's life (payments.Rank), and only those
		// of equal rank fall back to the id.
		`INSERT INTO payment_objects (object_id, last_event_created, last_event_id, last_event_type) VALUES (?, ?, ?, ?)
		ON CONFLICT (object_id) DO UPDATE SET
			last_event_created = excluded.last_event_created, last_event_id = excluded.last_event_id,
			last_event_type = excluded.last_event_type
		WHERE (excluded.last_event_created, `+payments.RankSQL("excluded.last_event_type")+`, excluded.last_event_id)
			> (payment_objects.last_event_created, `+payments.RankSQL("payment_objects.last_event_type")+`,
				payment_objects.last_event_id)`,
		`UPDATE payments SET stale = 1 WHERE event_id = ?`,
		`SELECT stale, recorded_by FROM payments WHERE event_id = ?`,
	)
	if err != nil {
		return nil, err
	}
	r, err := prepare(ctx, db.read,
		`SELECT event_id, type, object_id, customer, email, amount, currency, created, livemode, recorded_by
		FROM payments WHERE event_id = ?`)
	if err != nil {
		_ = closeStmts(w)
		return nil, err
	}
	return &Payments{db: db, insert: w[0], advance: w[1], markStale: w[2], recorded: w[3], get: r[0]}, nil
}

func (p *Payments) close() error {
	return closeStmts([]*sql.Stmt{p.insert, p.advance, p.markStale, p.recorded, p.get})
}

// Record adds e to the ledger once. A second Record of the same event id
// changes nothing: it is Earlier when e.By booked the event, else a
// Duplicate, and its Stale repeats the first Record's (payments.Repeat). An
// event older than one already applied to the same object is recorded
// (Recorded and Stale both true) but not applied, so a late delivery never
// rolls the object back.
func (p *Payments) Record(ctx context.Context, e payments.Event) (payments.Outcome, error) {
	var out payments.Outcome
	if err := p.db.w.broken(); err != nil {
		return payments.Outcome{}, fmt.Errorf("record event %s: %w", e.ID, err)
	}
	err := p.db.w.do(ctx, func(ctx context.Context) error {
		return p.db.w.tx(ctx, func() (bool, error) {
			out = payments.Outcome{}
			res, err := p.insert.ExecContext(ctx,
				e.ID, e.Type, e.ObjectID, e.Customer, e.Email, e.Amount, e.Currency,
				nanos(e.Created), e.Livemode, nanos(p.db.now()), e.By)
			if err != nil {
				return false, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return false, err
			}
			if n == 0 {
				// Read inside the write transaction: the row, its booker and
				// its stale flag were written by one committed transaction,
				// never apart.
				var (
					stale bool
					by    string
				)
				if err := p.recorded.QueryRowContext(ctx, e.ID).Scan(&stale, &by); err != nil {
					return false, fmt.Errorf("read the recorded event: %w", err)
				}
				out = payments.Repeat(e, by, stale)
				return false, nil
			}
			out.Recorded = true
			if e.ObjectID == "" {
				return true, nil // an event about no object has nothing to order against
			}
			res, err = p.advance.ExecContext(ctx, e.ObjectID, nanos(e.Created), e.ID, e.Type)
			if err != nil {
				return false, fmt.Errorf("order against %s: %w", e.ObjectID, err)
			}
			n, err = res.RowsAffected()
			if err != nil || n > 0 {
				return err == nil, err
			}
			if _, err := p.markStale.ExecContext(ctx, e.ID); err != nil {
				return false, fmt.Errorf("mark stale: %w", err)
			}
			out.Stale = true
			return true, nil
		})
	})
	if err == nil {
		// A repeat is synced too: the first Record may be another process's,
		// committed but not yet synced, and this one's answer vouches for it.
		if serr := p.db.w.durable(ctx); serr != nil {
			err = fmt.Errorf("%w: %w", payments.ErrUnconfirmed, serr)
		}
	}
	if err != nil {
		return payments.Outcome{}, fmt.Errorf("record event %s: %w", e.ID, err)
	}
	return out, nil
}

// Get returns a recorded event, with who booked it (By).
func (p *Payments) Get(ctx context.Context, eventID string) (payments.Event, bool, error) {
	var (
		e       payments.Event
		created int64
	)
	err := p.get.QueryRowContext(ctx, eventID).Scan(&e.ID, &e.Type, &e.ObjectID, &e.Customer, &e.Email,
		&e.Amount, &e.Currency, &created, &e.Livemode, &e.By)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return payments.Event{}, false, nil
	case err != nil:
		return payments.Event{}, false, fmt.Errorf("get event %s: %w", eventID, err)
	}
	e.Created = fromNanos(created)
	return e, true, nil
}
