package webhook

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Before 3ead5c7 stripe-go was handed the raw header and tried every v1 in
// it; now it gets only the (at most maxStripeSignatures) v1 values
// ParseStripeSignature kept, so a correct signature after eight others is
// refused as a wrong secret.
func TestAValidStripeSignatureAfterEightOthersStillVerifies(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"checkout.session.completed"}`)
	good := hex.EncodeToString(webhook.ComputeSignature(now, body, "whsec_a"))
	parts := []string{"t=" + strconv.FormatInt(now.Unix(), 10)}
	for i := 0; i < maxStripeSignatures; i++ {
		parts = append(parts, "v1="+strings.Repeat(strconv.Itoa(i), 64))
	}
	parts = append(parts, "v1="+good)
	header := strings.Join(parts, ",")
	require.NoError(t, webhook.ValidatePayloadIgnoringTolerance(body, header, "whsec_a"), "stripe-go accepts the raw header")
	require.NoError(t, VerifyStripe(body, header, secrets("whsec_a"), now, StripeTolerance))
}
