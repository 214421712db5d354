package fakesaas

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// StripeEvent is an event to seed; JSON renders it as Stripe does.
type StripeEvent struct {
	ID         string
	Type       string
	APIVersion string // default StripeAPIVersion
	Created    time.Time
	Livemode   bool
	// Object is data.object.
	Object map[string]any
}

// JSON renders the event as GET /v1/events/{id} returns it. The object gets
// the event's created and livemode unless it has its own.
func (e StripeEvent) JSON() []byte {
	if e.APIVersion == "" {
		e.APIVersion = StripeAPIVersion
	}
	obj := make(map[string]any, len(e.Object)+2)
	obj["created"] = e.Created.Unix()
	obj["livemode"] = e.Livemode
	for k, v := range e.Object {
		obj[k] = v
	}
	b, err := json.Marshal(map[string]any{
		"id": e.ID, "object": "event", "api_version": e.APIVersion,
		"created": e.Created.Unix(), "livemode": e.Livemode, "type": e.Type,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"data":             map[string]any{"object": obj},
	})
	if err != nil {
		panic(fmt.Sprintf("fakesaas: marshal stripe event: %v", err)) // only plain values inside
	}
	return b
}

// Payment describes the object of a payment event.
type Payment struct {
	ObjectID string // cs_... or pi_...; derived from the event id when empty
	Customer string // cus_...
	Email    string
	Amount   int64 // smallest currency unit
	Currency string
	Livemode bool
	Created  time.Time // zero: when the event is added
}

func (p Payment) objectID(prefix, eventID string) string {
	if p.ObjectID != "" {
		return p.ObjectID
	}
	return prefix + strings.TrimPrefix(eventID, "evt_")
}

// CheckoutSessionCompleted is a checkout.session.completed event for a paid
// one-off payment. The email is in customer_details, where Stripe puts it.
func CheckoutSessionCompleted(eventID string, p Payment) StripeEvent {
	id := p.objectID("cs_test_", eventID)
	return StripeEvent{
		ID: eventID, Type: "checkout.session.completed", Created: p.Created, Livemode: p.Livemode,
		Object: map[string]any{
			"id": id, "object": "checkout.session", "mode": "payment",
			"amount_subtotal": p.Amount, "amount_total": p.Amount, "currency": p.Currency,
			"customer": nullable(p.Customer), "customer_email": nil,
			"customer_details": map[string]any{"email": p.Email, "name": nil, "phone": nil, "tax_exempt": "none"},
			"payment_intent":   "pi_" + strings.TrimPrefix(id, "cs_"),
			"payment_status":   "paid", "status": "complete",
			"metadata": map[string]any{},
		},
	}
}

// PaymentIntentSucceeded is a payment_intent.succeeded event; the email is
// the receipt_email.
func PaymentIntentSucceeded(eventID string, p Payment) StripeEvent {
	id := p.objectID("pi_", eventID)
	return StripeEvent{
		ID: eventID, Type: "payment_intent.succeeded", Created: p.Created, Livemode: p.Livemode,
		Object: map[string]any{
			"id": id, "object": "payment_intent",
			"amount": p.Amount, "amount_received": p.Amount, "amount_capturable": 0, "currency": p.Currency,
			"customer": nullable(p.Customer), "receipt_email": nullable(p.Email),
			"status": "succeeded", "latest_charge": "ch_" + strings.TrimPrefix(id, "pi_"),
			"client_secret": id + "_secret_fake", "capture_method": "automatic",
			"metadata": map[string]any{},
		},
	}
}

// ChargeSucceeded is a charge.succeeded event; the email is in
// billing_details. paid is false for a charge.failed event's object.
func ChargeSucceeded(eventID string, p Payment) StripeEvent {
	return charge(eventID, "charge.succeeded", p, true)
}

// ChargeFailed is a charge.failed event: nothing was paid.
func ChargeFailed(eventID string, p Payment) StripeEvent {
	return charge(eventID, "charge.failed", p, false)
}

func charge(eventID, typ string, p Payment, paid bool) StripeEvent {
	id := p.objectID("ch_", eventID)
	status := "succeeded"
	if !paid {
		status = "failed"
	}
	return StripeEvent{
		ID: eventID, Type: typ, Created: p.Created, Livemode: p.Livemode,
		Object: map[string]any{
			"id": id, "object": "charge", "amount": p.Amount, "amount_captured": p.Amount, "amount_refunded": 0,
			"currency": p.Currency, "customer": nullable(p.Customer), "paid": paid, "status": status, "captured": paid,
			"billing_details": map[string]any{"email": nullable(p.Email), "name": nil},
			"receipt_email":   nil, "payment_intent": "pi_" + strings.TrimPrefix(id, "ch_"), "metadata": map[string]any{},
		},
	}
}

// InvoicePaid is an invoice.paid event; InvoicePaymentFailed the same
// invoice unpaid (amount_paid 0, the amount still due).
func InvoicePaid(eventID string, p Payment) StripeEvent {
	return invoice(eventID, "invoice.paid", p, true)
}

// InvoicePaymentFailed is an invoice.payment_failed event.
func InvoicePaymentFailed(eventID string, p Payment) StripeEvent {
	return invoice(eventID, "invoice.payment_failed", p, false)
}

func invoice(eventID, typ string, p Payment, paid bool) StripeEvent {
	id := p.objectID("in_", eventID)
	var amountPaid, remaining int64 = p.Amount, 0
	status := "paid"
	if !paid {
		amountPaid, remaining, status = 0, p.Amount, "open"
	}
	return StripeEvent{
		ID: eventID, Type: typ, Created: p.Created, Livemode: p.Livemode,
		Object: map[string]any{
			"id": id, "object": "invoice", "amount_due": p.Amount, "amount_paid": amountPaid,
			"amount_remaining": remaining, "currency": p.Currency, "customer": nullable(p.Customer),
			"customer_email": nullable(p.Email), "paid": paid, "status": status, "metadata": map[string]any{},
		},
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
