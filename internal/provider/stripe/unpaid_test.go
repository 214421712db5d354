package stripe_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

// A failed payment, a failed invoice and an unpaid completed session (a
// delayed payment method) have paid nothing: the ledger's amount is what
// was paid, not what was asked.
func TestAFailedOrUnpaidPaymentIsBookedAsNothingPaid(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"payment_intent.payment_failed": `{"id":"evt_pf","object":"event","created":1712345678,"livemode":false,
		"type":"payment_intent.payment_failed","data":{"object":{"id":"pi_1","object":"payment_intent","amount":5000,
		"amount_received":0,"currency":"usd","customer":"cus_1","status":"requires_payment_method"}}}`,
		"invoice.payment_failed": `{"id":"evt_if","object":"event","created":1712345678,"livemode":false,
		"type":"invoice.payment_failed","data":{"object":{"id":"in_1","object":"invoice","amount_due":5000,
		"amount_paid":0,"amount_remaining":5000,"currency":"usd","customer":"cus_1","status":"open","paid":false}}}`,
		"checkout.session.completed unpaid (delayed payment method)": `{"id":"evt_cu","object":"event","created":1712345678,
		"livemode":false,"type":"checkout.session.completed","data":{"object":{"id":"cs_test_1","object":"checkout.session",
		"mode":"payment","amount_total":5000,"currency":"eur","customer":null,"customer_details":{"email":"a@example.com"},
		"payment_status":"unpaid","status":"complete","payment_intent":"pi_2"}}}`,
	} {
		e, err := stripe.ParseEvent([]byte(raw))
		require.NoError(t, err, name)
		assert.Zero(t, e.Amount, "%s: nothing was paid, the ledger books %d", name, e.Amount)
	}
}
