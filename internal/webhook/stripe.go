package webhook

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// StripeSignatureHeader is Stripe's signature header.
const StripeSignatureHeader = "Stripe-Signature"

// maxStripeSignatures bounds the v1 values read from one header; Stripe sends
// one per active secret, two during a rotation.
const maxStripeSignatures = 8

// StripeSignature is a parsed Stripe-Signature header:
// "t=1492774577,v1=5257a8...,v1=...,v0=...".
type StripeSignature struct {
	Timestamp int64
	V1        [][]byte
}

// ParseStripeSignature parses a Stripe-Signature header. It wants exactly one
// t and at least one well-formed v1; other schemes (v0) are ignored, as
// Stripe's own library does.
func ParseStripeSignature(h string) (StripeSignature, error) {
	var s StripeSignature
	if h == "" {
		return s, ErrMissingSignature
	}
	seenT := false
	for _, pair := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return StripeSignature{}, ErrMalformedSignature
		}
		switch k {
		case "t":
			ts, ok := parseUnixSeconds(v)
			if !ok || seenT {
				return StripeSignature{}, ErrMalformedSignature
			}
			s.Timestamp, seenT = ts, true
		case "v1":
			if len(v) != 64 || !isHex(v) || len(s.V1) == maxStripeSignatures {
				continue
			}
			b, _ := hex.DecodeString(v)
			s.V1 = append(s.V1, b)
		}
	}
	if !seenT || len(s.V1) == 0 {
		return StripeSignature{}, ErrMalformedSignature
	}
	return s, nil
}

// VerifyStripe checks a Stripe-Signature header over the raw payload: the
// timestamp within tolerance of now (either way), then stripe-go's HMAC check
// against each secret.
func VerifyStripe(payload []byte, header string, secrets []config.Secret, now time.Time, tolerance time.Duration) error {
	if err := CheckStripeHeader(header, secrets, now, tolerance); err != nil {
		return err
	}
	// The library is given the header as this package read it (t and the
	// v1 values, written without the spaces ParseStripeSignature allows):
	// given the raw one, it read " v1" as another scheme and refused as a
	// wrong secret a signature the check above had accepted (found in
	// review). One reading decides.
	// Every v1 value goes (ParseStripeSignature keeps the first eight for
	// its check; found in review: a valid ninth was refused).
	// Only the pairs ParseStripeSignature reads: t, and v1 values of 64 hex
	// digits (stripe-go refuses a whole header over one it cannot split,
	// "v1=ab==", which the check skips; found in review).
	var pairs []string
	for _, p := range strings.Split(header, ",") {
		p = strings.TrimSpace(p)
		if v, ok := strings.CutPrefix(p, "v1="); ok {
			if b, err := hex.DecodeString(v); err != nil || len(b) != 32 {
				continue
			}
		} else if !strings.HasPrefix(p, "t=") {
			continue
		}
		pairs = append(pairs, p)
	}
	canonical := strings.Join(pairs, ",")
	for _, s := range secrets {
		if s.Reveal() == "" {
			continue // never a key: anyone can sign with it (found in review: missed here)
		}
		// The timestamp was checked above against our clock; the library's
		// own check would use the wall clock.
		if webhook.ValidatePayloadIgnoringTolerance(payload, canonical, s.Reveal()) == nil {
			return nil
		}
	}
	return ErrBadSignature
}

// CheckStripeHeader is VerifyStripe's part that needs no body: a
// well-formed Stripe-Signature, its timestamp within tolerance and a
// configured secret (run before the body is read, as CheckGitHubHeaders).
func CheckStripeHeader(header string, secrets []config.Secret, now time.Time, tolerance time.Duration) error {
	sig, err := ParseStripeSignature(header)
	if err != nil {
		return err
	}
	if err := checkTimestamp(sig.Timestamp, now, tolerance); err != nil {
		return err
	}
	if !anySecret(secrets) {
		return ErrNoSecret
	}
	return nil
}
