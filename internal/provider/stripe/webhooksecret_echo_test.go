package stripe_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// STRIPE_SECRET_KEY is not checked for shape, and the webhook signing
// secret sits next to it, so a whsec_ value put there by mistake is sent
// and refused. Stripe (and fakesaas) echo any refused key as its prefix,
// asterisks and its last four characters; the new pattern masks the echo
// for sk_/rk_/pk_ only, so the signing secret's tail reaches the tool error
// and the audit log, which the commit says no part of a configured secret
// may.
func TestARejectedWebhookSecretInSTRIPE_SECRET_KEYQuotesNoPartOfIt(t *testing.T) {
	t.Parallel()
	srv := fakesaas.New()
	t.Cleanup(srv.Close)
	srv.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_test", fakesaas.Payment{Amount: 1, Currency: "eur"}))
	_, err := newClient(srv, "whsec_reviewNotTheKey42wxyz").GetEvent(t.Context(), "evt_test")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "wxyz", "the secret's last four characters, as Stripe quotes them")
}
