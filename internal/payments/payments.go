// Package payments defines the payments ledger: each Stripe event recorded
// once, whether it arrives through the recordPaymentEvent tool or a webhook.
package payments

import (
	"context"
	"errors"
	"time"
)

// ErrUnconfirmed is wrapped by a Ledger's Record error when the event was
// recorded (committed, visible to every reader) but could not be confirmed
// durable (the sync after the commit failed): the booking may stand, so the
// booker must not be forgotten, as it would be if the error meant "nothing
// was recorded".
var ErrUnconfirmed = errors.New("the event was recorded but could not be confirmed on disk")

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
	// By names who books the event (ByCall, ByDelivery), kept on its row so
	// that a repeat by the same booker (a retry after a crash between the
	// ledger's commit and the booker's audit record) learns that it booked
	// the event itself: otherwise no audit record would ever say the event
	// was booked. Empty: no booker, every repeat is a Duplicate. Not part of
	// any result.
	By string `json:"-"`
}

// ByCall is the booker of a recordPaymentEvent call: its idempotency key
// (explicit or derived, the same on every retry of the call) and when that
// life of the key was claimed, which a retry of a key in doubt keeps. A key
// that expired and is claimed again (the same call without a key after the
// window, say) is another call, and finds the event booked by the earlier.
func ByCall(key string, claimedAt time.Time) string {
	return "call " + key + " claimed " + claimedAt.UTC().Format(time.RFC3339Nano)
}

// ByDelivery is the booker of a webhook delivery: its delivery key and when
// it was stored, the same on every run of the delivery (a retry, a rerun
// after a crash, a replay). The key alone is not enough: once a delivery is
// pruned, the provider's next delivery of the event (a retry of an answer
// it never saw, a resend) is stored anew under the same key, and it booked
// nothing (found in review). The prefixes keep a call's key and a
// delivery's key apart.
func ByDelivery(key string, receivedAt time.Time) string {
	return "delivery " + key + " received " + receivedAt.UTC().Format(time.RFC3339Nano)
}

// Outcome tells what Record did with an event.
type Outcome struct {
	// Recorded is true when this call added the event to the ledger, or
	// when its booker did in an earlier attempt (Earlier).
	Recorded bool
	// Earlier is true when the event was already in the ledger, booked by
	// this event's own booker (Event.By) in an earlier attempt: the attempt
	// that booked it may have died before saying so, so this one does.
	Earlier bool
	// Duplicate is true when the event was already in the ledger, booked
	// by another booker (or with none).
	Duplicate bool
	// Stale is true when a newer event for the same object had already been
	// applied; the event is kept as stale and not applied. On a Duplicate
	// or an Earlier it tells whether the event was kept as stale when first
	// recorded, so that running a delivery again (a replay, a redelivery
	// after a crash, a webhook after the tool) reports what the ledger did
	// with the event, not just that it was seen before.
	Stale bool
}

// Ledger stores payment events. Record is idempotent by event id and safe
// for concurrent use from several processes: repeating a Record changes
// nothing and returns the same Stale as the first; it is Earlier when the
// repeat's booker (Event.By) recorded the event, else a Duplicate. The
// events of one object are ordered by Created, then Rank of their Type,
// then ID.
type Ledger interface {
	Record(ctx context.Context, e Event) (Outcome, error)
	Get(ctx context.Context, eventID string) (Event, bool, error)
}

// Repeat is the Outcome of a Record of e that found e's id already in the
// ledger, booked by recordedBy and kept stale or not: Earlier when e's own
// booker booked it (a booker that names nobody matches no one), else a
// Duplicate. Every store decides it here, so that they cannot disagree.
func Repeat(e Event, recordedBy string, stale bool) Outcome {
	if e.By != "" && e.By == recordedBy {
		return Outcome{Recorded: true, Earlier: true, Stale: stale}
	}
	return Outcome{Duplicate: true, Stale: stale}
}
