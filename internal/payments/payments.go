// Package payments defines the payments ledger: each Stripe event recorded
// once, whether it arrives through the recordPaymentEvent tool or a webhook.
package payments

import (
	"context"
	"time"
)

// Event is the part of a Stripe event the ledger keeps. Amount is in the
// smallest currency unit, exactly as Stripe gives it.
type Event struct {
	ID       string    `json:"eventId"`
	Type     string    `json:"type"`
	ObjectID string    `json:"objectId"` // the id of data.object (cs_..., pi_...)
	Customer string    `json:"customer"`
	Email    string    `json:"email"`
	Amount   int64     `json:"amount"`
	Currency string    `json:"currency"`
	Created  time.Time `json:"created"`
	Livemode bool      `json:"livemode"`
}

// Outcome tells what Record did with an event.
type Outcome struct {
	// Recorded is true when this call added the event to the ledger.
	Recorded bool
	// Duplicate is true when the event was already in the ledger.
	Duplicate bool
	// Stale is true when a newer event for the same object had already been
	// applied; the event is kept as stale and not applied. On a Duplicate it
	// tells whether the event was kept as stale when first recorded, so that
	// running a delivery again (a replay, a redelivery after a crash, a
	// webhook after the tool) reports what the ledger did with the event,
	// not just that it was seen before.
	Stale bool
}

// Ledger stores payment events. Record is idempotent by event id and safe
// for concurrent use from several processes: repeating a Record changes
// nothing and returns the same Stale as the first. The events of one object
// are ordered by Created, then Rank of their Type, then ID.
type Ledger interface {
	Record(ctx context.Context, e Event) (Outcome, error)
	Get(ctx context.Context, eventID string) (Event, bool, error)
}
