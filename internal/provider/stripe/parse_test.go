package stripe_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

var created = time.Unix(1712345678, 0).UTC()

// Raw payloads of types the fake has no builder for, as Stripe sends them.
const (
	invoicePaid = `{"id":"evt_inv","object":"event","api_version":"2020-08-27","created":1712345678,"livemode":false,
		"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice","customer":"cus_9",
		"customer_email":"inv@example.com","amount_due":2500,"amount_paid":2500,"currency":"usd"}}}`
	chargeSucceeded = `{"id":"evt_ch","object":"event","created":1712345678,"livemode":false,"type":"charge.succeeded",
		"data":{"object":{"id":"ch_1","object":"charge","customer":{"id":"cus_x","object":"customer","email":"exp@example.com"},
		"billing_details":{"email":"bill@example.com"},"receipt_email":null,"amount":700,"currency":"gbp"}}}`
	intentCreated = `{"id":"evt_pc","object":"event","created":1712345678,"type":"payment_intent.created",
		"data":{"object":{"id":"pi_2","object":"payment_intent","customer":null,"amount":900,"amount_received":0,"currency":"eur"}}}`
	balanceAvailable = `{"id":"evt_bal","object":"event","created":1712345678,"type":"balance.available",
		"data":{"object":{"object":"balance","available":[{"amount":1,"currency":"usd"}]}}}`
)

func TestParseEventReadsWhatTheLedgerKeeps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  []byte
		want payments.Event
	}{
		{"checkout.session.completed takes amount_total and customer_details.email",
			fakesaas.CheckoutSessionCompleted("evt_cs", fakesaas.Payment{
				ObjectID: "cs_test_a1", Customer: "cus_1", Email: "a@example.com", Amount: 1999, Currency: "eur", Created: created,
			}).JSON(),
			payments.Event{ID: "evt_cs", Type: "checkout.session.completed", ObjectID: "cs_test_a1", Customer: "cus_1",
				Email: "a@example.com", Amount: 1999, Currency: "eur", Created: created}},
		{"payment_intent.succeeded takes amount_received and receipt_email",
			fakesaas.PaymentIntentSucceeded("evt_pi", fakesaas.Payment{
				ObjectID: "pi_1", Customer: "cus_2", Email: "b@example.com", Amount: 500, Currency: "usd", Created: created,
			}).JSON(),
			payments.Event{ID: "evt_pi", Type: "payment_intent.succeeded", ObjectID: "pi_1", Customer: "cus_2",
				Email: "b@example.com", Amount: 500, Currency: "usd", Created: created}},
		{"a live-mode event says so",
			fakesaas.PaymentIntentSucceeded("evt_live", fakesaas.Payment{ObjectID: "pi_l", Amount: 10, Currency: "usd", Livemode: true, Created: created}).JSON(),
			payments.Event{ID: "evt_live", Type: "payment_intent.succeeded", ObjectID: "pi_l", Amount: 10, Currency: "usd",
				Created: created, Livemode: true}},
		{"an invoice of an old API version takes amount_paid and customer_email",
			[]byte(invoicePaid),
			payments.Event{ID: "evt_inv", Type: "invoice.paid", ObjectID: "in_1", Customer: "cus_9",
				Email: "inv@example.com", Amount: 2500, Currency: "usd", Created: created}},
		{"a charge with an expanded customer prefers billing_details.email",
			[]byte(chargeSucceeded),
			payments.Event{ID: "evt_ch", Type: "charge.succeeded", ObjectID: "ch_1", Customer: "cus_x",
				Email: "bill@example.com", Amount: 700, Currency: "gbp", Created: created}},
		{"an intent with nothing received yet has paid nothing",
			[]byte(intentCreated),
			payments.Event{ID: "evt_pc", Type: "payment_intent.created", ObjectID: "pi_2", Amount: 0, Currency: "eur", Created: created}},
		{"an event whose object has no id or amount still parses",
			[]byte(balanceAvailable),
			payments.Event{ID: "evt_bal", Type: "balance.available", Created: created}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := stripe.ParseEvent(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseEventRejectsWhatIsNotAnEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw, want string
	}{
		{"text that is not JSON", `<html>`, "parse stripe event"},
		{"an event without an id", `{"object":"event","type":"x","data":{"object":{}}}`, "no id"},
		{"another object", `{"id":"cs_1","object":"checkout.session","type":"x","data":{"object":{}}}`, "not an event"},
		{"an event without a type", `{"id":"evt_1","data":{"object":{}}}`, "no type"},
		{"an event without data.object", `{"id":"evt_1","type":"x","data":{}}`, "not an object"},
		{"a data.object that is a list", `{"id":"evt_1","type":"x","data":{"object":[1]}}`, "not an object"},
		{"an amount that is not an integer", `{"id":"evt_1","type":"x","data":{"object":{"amount":1.5}}}`, "data.object"},
		{"a customer that is a number", `{"id":"evt_1","type":"x","data":{"object":{"customer":5}}}`, "customer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := stripe.ParseEvent([]byte(tt.raw))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add(fakesaas.CheckoutSessionCompleted("evt_1", fakesaas.Payment{Customer: "cus_1", Email: "a@b.c", Amount: 1, Currency: "eur"}).JSON())
	f.Add(fakesaas.PaymentIntentSucceeded("evt_2", fakesaas.Payment{Amount: 2, Currency: "usd", Livemode: true}).JSON())
	for _, s := range []string{invoicePaid, chargeSucceeded, intentCreated, balanceAvailable,
		`{}`, `null`, `[]`, `{"id":"evt_1","type":"x","data":{"object":{"customer":{"id":5}}}}`,
		`{"id":"evt_1","type":"x","created":-1,"data":{"object":{"amount":9223372036854775807}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := stripe.ParseEvent(raw)
		if err != nil {
			assert.Equal(t, payments.Event{}, e, "a failed parse returns nothing")
			return
		}
		assert.NotEmpty(t, e.ID)
		assert.NotEmpty(t, e.Type)
		assert.True(t, e.Created.IsZero() || e.Created.Location() == time.UTC)
		again, err := stripe.ParseEvent(raw)
		require.NoError(t, err)
		assert.Equal(t, e, again, "parsing is deterministic")
	})
}
