package webhook

import (
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"
)

// ParseStripeSignature trims spaces around each pair (its fuzz seed
// " t=1 , v1=... " parses), and the v1 it reads is the right HMAC for the
// timestamp it reads; but VerifyStripe then hands the raw header to
// stripe-go, which does not trim: " v1" is an unknown key to it, "NOW " is
// not an integer. The header passes the pre-check and is refused as signed
// with the wrong secret.
func TestAStripeSignatureThatParsesWithSpacesAlsoVerifies(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"checkout.session.completed"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	v1 := hex.EncodeToString(webhook.ComputeSignature(now, body, "whsec_a"))
	for _, header := range []string{
		"t=" + ts + ", v1=" + v1,
		"t=" + ts + " ,v1=" + v1,
	} {
		sig, err := ParseStripeSignature(header)
		require.NoError(t, err, "the parser accepts %q", header)
		require.Equal(t, now.Unix(), sig.Timestamp)
		require.NoError(t, CheckStripeHeader(header, secrets("whsec_a"), now, StripeTolerance))
		require.NoError(t, VerifyStripe(body, header, secrets("whsec_a"), now, StripeTolerance),
			"header %q parsed, its timestamp is fresh and its v1 is the HMAC of that timestamp with the secret", header)
	}
}
