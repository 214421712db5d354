package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Stripe's masked echo is a prefix, a run of asterisks and the key's last
// four characters. The pattern added for it takes one asterisk and no tail,
// so ordinary text that writes a key prefix as a glob (docs, an issue body,
// a Slack message the audit log records) is now mangled, though it holds
// no secret: before the change it was left alone.
func TestAGlobOfStripeKeyPrefixesInOrdinaryTextIsNotMasked(t *testing.T) {
	t.Parallel()
	s := "set STRIPE_SECRET_KEY to a test key (sk_test_*), never a live one (sk_live_*)"
	assert.Equal(t, s, New().String(s))
}
