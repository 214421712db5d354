package webhook

import (
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"
)

// ParseStripeSignature reads a pair up to its first "=" and skips a v1 value
// that is not 64 hex digits, so CheckStripeHeader accepts this header. The
// pair filter added in 41dc56c now hands stripe-go every pair starting with
// "v1=", the malformed one too, and stripe-go (strings.Split(pair, "=")
// wanting exactly two parts) refuses the whole header as invalid: a correct
// signature is refused as a wrong secret. Before, only the 64-hex values
// ParseStripeSignature kept were handed over, and it verified.
func TestAValidStripeSignatureBesideAV1ValueHoldingAnEqualsSignStillVerifies(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"checkout.session.completed"}`)
	good := hex.EncodeToString(webhook.ComputeSignature(now, body, "whsec_a"))
	header := "t=" + strconv.FormatInt(now.Unix(), 10) + ",v1=" + good + ",v1=ab=="
	require.NoError(t, CheckStripeHeader(header, secrets("whsec_a"), now, StripeTolerance), "the check accepts the header")
	require.NoError(t, VerifyStripe(body, header, secrets("whsec_a"), now, StripeTolerance))
}
