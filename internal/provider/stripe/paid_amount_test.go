package stripe_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

// Found in review. README: "the amount paid in the smallest currency unit ... The amount is
// what was paid, 0 when nothing was". A charge's paid amount is
// amount_captured: an authorization (capture_method=manual) has paid: true
// and captured: false, and a partial capture pays less than amount.
func TestAChargesAmountIsWhatWasCaptured(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		raw  string
		want int64
	}{
		"charge.succeeded of an authorization not yet captured": {`{"id":"evt_auth","object":"event","created":1712345678,
		"livemode":false,"type":"charge.succeeded","data":{"object":{"id":"ch_1","object":"charge","amount":5000,
		"amount_captured":0,"amount_refunded":0,"captured":false,"paid":true,"status":"succeeded","currency":"usd",
		"customer":"cus_1"}}}`, 0},
		"charge.captured partially": {`{"id":"evt_cap","object":"event","created":1712345679,
		"livemode":false,"type":"charge.captured","data":{"object":{"id":"ch_1","object":"charge","amount":5000,
		"amount_captured":3000,"amount_refunded":2000,"captured":true,"paid":true,"status":"succeeded","currency":"usd",
		"customer":"cus_1"}}}`, 3000},
		"charge.refunded of a partially captured charge": {`{"id":"evt_ref","object":"event","created":1712345680,
		"livemode":false,"type":"charge.refunded","data":{"object":{"id":"ch_1","object":"charge","amount":5000,
		"amount_captured":3000,"amount_refunded":5000,"captured":true,"paid":true,"refunded":true,"status":"succeeded",
		"currency":"usd","customer":"cus_1"}}}`, 3000},
	} {
		e, err := stripe.ParseEvent([]byte(tc.raw))
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, e.Amount, "%s: the ledger books %d as paid", name, e.Amount)
	}
}

// Found in review. README: "a refund event keeps the charge's paid amount and its type says
// what happened". A refund.created event's object is the refund: its amount
// is what was given back (1000 of a 5000 charge), and it is booked as the
// amount paid. A refund books 0.
func TestARefundEventIsNotBookedAsPaid(t *testing.T) {
	t.Parallel()
	raw := `{"id":"evt_rf","object":"event","created":1712345690,"livemode":false,"type":"refund.created",
	"data":{"object":{"id":"re_1","object":"refund","amount":1000,"charge":"ch_1","currency":"usd",
	"payment_intent":"pi_1","status":"succeeded"}}}`
	e, err := stripe.ParseEvent([]byte(raw))
	require.NoError(t, err)
	assert.Equal(t, int64(0), e.Amount, "the refunded amount is not booked as the amount paid")
}

// Found in review: a dispute's or a credit note's amount is money taken or
// owed back, and a checkout session that is not paid (no_payment_required,
// or a status added later) has paid nothing; each booked its amount as
// paid. A paid session, and one from before payment_status, book their
// total.
func TestOnlyMoneyPaidIsBookedAsPaid(t *testing.T) {
	t.Parallel()
	event := func(typ, object string) string {
		return `{"id":"evt_x","object":"event","created":1712345678,"livemode":false,"type":"` + typ +
			`","data":{"object":` + object + `}}`
	}
	tests := []struct {
		name, raw string
		want      int64
	}{
		{"a dispute", event("charge.dispute.created", `{"id":"dp_1","object":"dispute","amount":5000,"currency":"usd","charge":"ch_1"}`), 0},
		{"a credit note", event("credit_note.created", `{"id":"cn_1","object":"credit_note","amount":700,"total":700,"currency":"usd"}`), 0},
		{"a session needing no payment", event("checkout.session.completed", `{"id":"cs_1","object":"checkout.session","amount_total":900,"payment_status":"no_payment_required","currency":"usd"}`), 0},
		{"a session of a status added later", event("checkout.session.completed", `{"id":"cs_2","object":"checkout.session","amount_total":900,"payment_status":"pending_review","currency":"usd"}`), 0},
		{"a paid session", event("checkout.session.completed", `{"id":"cs_3","object":"checkout.session","amount_total":900,"payment_status":"paid","currency":"usd"}`), 900},
		{"a session from before payment_status", event("checkout.session.completed", `{"id":"cs_4","object":"checkout.session","amount_total":900,"currency":"usd"}`), 900},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := stripe.ParseEvent([]byte(tc.raw))
			require.NoError(t, err)
			assert.Equal(t, tc.want, e.Amount)
		})
	}
}
