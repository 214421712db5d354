package stripe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/safetext"
)

// wireEvent is the part of a Stripe event ParseEvent reads. It is decoded by
// hand, not with stripe-go's types, so any API version's events parse.
type wireEvent struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	Type     string `json:"type"`
	Created  int64  `json:"created"`
	Livemode bool   `json:"livemode"`
	Data     struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// wireObject is the part of data.object ParseEvent reads; which fields a
// type has decides amount and email.
type wireObject struct {
	ID              string          `json:"id"`
	Object          string          `json:"object"`
	Customer        json.RawMessage `json:"customer"` // an id, an expanded customer, or null
	CustomerDetails *struct {
		Email string `json:"email"`
	} `json:"customer_details"`
	CustomerEmail  string `json:"customer_email"`
	ReceiptEmail   string `json:"receipt_email"`
	BillingDetails *struct {
		Email string `json:"email"`
	} `json:"billing_details"`
	// Amounts are read only where they are numbers: some objects carry
	// another shape under the same name (a billing.credit_grant's amount is
	// an object), and an event must never be refused for a field the
	// ledger does not need.
	AmountTotal    lenientInt `json:"amount_total"`
	Amount         lenientInt `json:"amount"`
	AmountReceived lenientInt `json:"amount_received"`
	AmountPaid     lenientInt `json:"amount_paid"`
	AmountCaptured lenientInt `json:"amount_captured"`
	Currency       string     `json:"currency"`
	// PaymentStatus is a checkout session's: "paid", "unpaid" (a delayed
	// payment method, paid later with async_payment_succeeded) or
	// "no_payment_required".
	PaymentStatus string `json:"payment_status"`
	// Paid is a charge's: false for a failed one.
	Paid *bool `json:"paid"`
}

// ParseEvent reads a Stripe event, as GET /v1/events/{id} returns it or a
// webhook delivers it, into the ledger's form. The amount is the one that
// was paid, 0 when nothing was: amount_total for a paid checkout.session,
// amount_received for a payment_intent, amount_captured for a paid charge,
// amount_paid for an invoice, 0 for a refund; for other objects
// amount_total or amount when a number. A charge's refund events keep the
// charge's paid amount (the refunded amount is not kept: the type says
// what happened). The email is the first of
// customer_details.email, customer_email, receipt_email,
// billing_details.email and an expanded customer's email.
func ParseEvent(raw []byte) (payments.Event, error) {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return payments.Event{}, fmt.Errorf("parse stripe event: %w", err)
	}
	switch {
	case w.ID == "":
		return payments.Event{}, errors.New("parse stripe event: no id")
	case w.Object != "" && w.Object != "event":
		return payments.Event{}, fmt.Errorf("parse stripe event %s: object is %q, not an event", w.ID, w.Object)
	case w.Type == "":
		return payments.Event{}, fmt.Errorf("parse stripe event %s: no type", w.ID)
	case !isJSONObject(w.Data.Object):
		return payments.Event{}, fmt.Errorf("parse stripe event %s: data.object is not an object", w.ID)
	}
	var o wireObject
	if err := json.Unmarshal(w.Data.Object, &o); err != nil {
		return payments.Event{}, fmt.Errorf("parse stripe event %s: data.object: %w", w.ID, err)
	}
	customer, customerEmail, err := parseCustomer(o.Customer)
	if err != nil {
		return payments.Event{}, fmt.Errorf("parse stripe event %s: customer: %w", w.ID, err)
	}
	e := payments.Event{
		ID: w.ID, Type: w.Type, ObjectID: o.ID, Customer: customer,
		Email:  firstNonEmpty(o.customerDetailsEmail(), o.CustomerEmail, o.ReceiptEmail, o.billingEmail(), customerEmail),
		Amount: o.amount(), Currency: o.Currency, Livemode: w.Livemode,
	}
	if w.Created > 0 {
		e.Created = time.Unix(w.Created, 0).UTC()
	}
	// The ledger keeps these as text, which PostgreSQL refuses with NUL or
	// invalid UTF-8 in it (SQLite takes anything): both stores must keep
	// the same event.
	for _, f := range []*string{&e.ID, &e.Type, &e.ObjectID, &e.Customer, &e.Email, &e.Currency} {
		*f = safetext.Valid(*f)
	}
	return e, nil
}

// lenientInt is an integer field that may be missing, null, or of another
// shape (an object, a string): set says an integer was there. A number
// that is not an integer is an error: Stripe's amounts are integers in the
// smallest currency unit, so the event is not what it claims.
type lenientInt struct {
	v   int64
	set bool
}

func (l *lenientInt) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return nil // null, an object, a string...: not an amount
	}
	if err := json.Unmarshal(b, &l.v); err != nil {
		return fmt.Errorf("amount %s is not an integer", b)
	}
	l.set = true
	return nil
}

func (o wireObject) amount() int64 {
	switch o.Object {
	case "checkout.session":
		// An unpaid session (a bank debit still pending) has paid nothing
		// yet: its money comes with async_payment_succeeded.
		// Only a paid one books its total: unpaid (a bank debit still
		// pending), no_payment_required, or a status added later have paid
		// nothing (review observation). Objects from before payment_status
		// have none: their total.
		if o.PaymentStatus != "" && o.PaymentStatus != "paid" {
			return 0
		}
		return o.AmountTotal.v
	case "payment_intent":
		// What arrived, not what was asked: 0 for a failed or pending one.
		return o.AmountReceived.v
	case "charge":
		if o.Paid != nil && !*o.Paid {
			return 0
		}
		// What was captured: an authorization not yet captured is paid
		// true with nothing taken, and a partial capture takes less than
		// amount. (Objects from before amount_captured: amount.)
		if o.AmountCaptured.set {
			return o.AmountCaptured.v
		}
		return o.Amount.v
	case "invoice":
		return o.AmountPaid.v
	case "refund", "dispute", "credit_note":
		// Money given back, taken back or owed back, not paid: the event's
		// type says what happened (disputes and credit notes booked their
		// amount as paid; review observation).
		return 0
	}
	if o.AmountTotal.set {
		return o.AmountTotal.v
	}
	return o.Amount.v
}

func (o wireObject) customerDetailsEmail() string {
	if o.CustomerDetails == nil {
		return ""
	}
	return o.CustomerDetails.Email
}

func (o wireObject) billingEmail() string {
	if o.BillingDetails == nil {
		return ""
	}
	return o.BillingDetails.Email
}

// parseCustomer reads customer as an id, an expanded customer or null.
func parseCustomer(raw json.RawMessage) (id, email string, err error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return "", "", nil
	case raw[0] == '"':
		err = json.Unmarshal(raw, &id)
		return id, "", err
	default:
		var c struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		}
		err = json.Unmarshal(raw, &c)
		return c.ID, c.Email, err
	}
}

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
