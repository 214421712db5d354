package tools

import (
	"context"
	"errors"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// RecordedPayment is recordPaymentEvent's structured result.
type RecordedPayment struct {
	Provider string `json:"provider"`
	EventID  string `json:"eventId"`
	Type     string `json:"type"`
	Customer string `json:"customer"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Recorded bool   `json:"recorded"`
	// Stale and Duplicate say what the ledger did with an event this call
	// did not apply: a newer event of its object was applied first, or
	// another call or a webhook delivery booked it. Kept in the stored
	// result, so a replay's audit record says them too (found in review).
	Stale     bool `json:"stale,omitempty"`
	Duplicate bool `json:"duplicate,omitempty"`
	Replayed  bool `json:"replayed"`
}

// RecordPaymentEvent fetches a Stripe event and records it once in the
// payments ledger. The ledger is keyed by event id, so the tool and the
// Stripe webhook never record one event twice; there is nothing to
// reconcile, and a repeat after a crash is harmless. The ledger row names
// the call that booked it (payments.ByCall), so a retry of a call killed
// after booking, before its result and terminal record, says it booked the
// event (an earlier attempt did), not that someone else had.
func RecordPaymentEvent(d Deps) (Definition, error) {
	t := &chain.Tool{
		Describe:    describe("type", "amount", "currency", "recorded", "duplicate", "stale"),
		Provider:    "stripe",
		Action:      "record_payment_event",
		Target:      arg("eventId"),
		Credentials: []string{config.StripeSecretKey},
		// It only reads Stripe and records in saas-mcp's own ledger:
		// READ_ONLY lets it run.
		ReadOnly: true,
		Run: func(ctx context.Context, c *chain.Call) (any, error) {
			if d.Stripe == nil {
				return nil, notConfigured("Stripe")
			}
			ev, err := d.Stripe.GetEvent(ctx, c.String("eventId"))
			if err != nil {
				return nil, err
			}
			if err := config.CheckLivemode(d.Env, ev.Livemode, "event "+ev.ID); err != nil {
				return nil, &chain.Error{Kind: chain.KindPolicy, Message: err.Error()}
			}
			ev.By = payments.ByCall(c.Key, c.ClaimedAt)
			out, err := d.Ledger.Record(ctx, ev)
			if errors.Is(err, payments.ErrUnconfirmed) {
				// Booked under this call's key, maybe: the key must stay
				// (in doubt), so that the retry, which keeps the claim and so
				// the booker, is told it recorded the event, not that someone
				// else did (found in review: the key was released).
				return nil, &chain.Error{Kind: chain.KindInDoubt, Err: err,
					Message: "record payment event in the ledger: " + err.Error()}
			}
			if err != nil {
				return nil, chain.Internal("record payment event in the ledger", err)
			}
			// Stale holds on a repeat too (the ledger returns what it did with
			// the event the first time), so the audit record of every call for
			// a stale event says so, not only the one that recorded it. Which
			// call booked the event (recorded) and which found it booked
			// (duplicate) is said as the worker says it for a webhook, so
			// the log alone shows each event booked once: by the call whose
			// terminal record says recorded, which says earlierAttempt when
			// an attempt before it (killed before its record) did the booking.
			if out.Stale {
				c.SetDetail("stale", true)
			}
			if out.Earlier {
				c.SetDetail("earlierAttempt", true)
			}
			c.SetDetail("type", ev.Type)
			c.SetDetail("amount", ev.Amount)
			c.SetDetail("currency", ev.Currency)
			c.SetDetail("recorded", out.Recorded)
			c.SetDetail("duplicate", out.Duplicate)
			return RecordedPayment{
				Provider: "stripe", EventID: ev.ID, Type: ev.Type, Customer: ev.Customer,
				Amount: ev.Amount, Currency: ev.Currency, Recorded: out.Recorded,
				Stale: out.Stale, Duplicate: out.Duplicate,
			}, nil
		},
	}
	return define("recordPaymentEvent",
		"Fetch a Stripe event (evt_...) and record it once in the payments ledger. Use after a payment to book it; repeats are harmless.",
		hints{title: "Record Stripe payment event", idempotent: true, world: true}, t)
}
