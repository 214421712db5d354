package webhook

import (
	"errors"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// Why a delivery is refused. Each is a sentinel for errors.Is; its text is
// what the audit log records as the reason.
var (
	ErrMissingSignature   = errors.New("signature header missing")
	ErrMalformedSignature = errors.New("signature header malformed")
	ErrBadSignature       = errors.New("signature does not match any configured secret")
	ErrSHA1Only           = errors.New("only the SHA-1 X-Hub-Signature was sent; X-Hub-Signature-256 is required")
	ErrStaleTimestamp     = errors.New("signature timestamp is too old")
	ErrFutureTimestamp    = errors.New("signature timestamp is too far in the future")
	ErrNoSecret           = errors.New("no signing secret is configured for this provider")
)

// Tolerances of the signed timestamps, as the providers document them.
const (
	StripeTolerance = 300 * time.Second
	SlackTolerance  = 5 * time.Minute
)

// checkTimestamp refuses a signed timestamp more than tolerance away from
// now, in either direction: a future one is as suspicious as an old one (a
// captured request replayed later, or a signer whose clock is wrong).
func checkTimestamp(ts int64, now time.Time, tolerance time.Duration) error {
	d := now.Sub(time.Unix(ts, 0))
	switch {
	case d > tolerance:
		return ErrStaleTimestamp
	case d < -tolerance:
		return ErrFutureTimestamp
	}
	return nil
}

// anySecret reports whether secrets holds a usable (non-empty) secret. An
// empty one never gets here through the configuration (SplitSecrets drops
// blanks), but a signature made with an empty key is one anybody can make.
func anySecret(secrets []config.Secret) bool {
	for _, s := range secrets {
		if s.Reveal() != "" {
			return true
		}
	}
	return false
}

// isHex reports whether s is non-empty lower- or upper-case hexadecimal.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// parseUnixSeconds reads a Unix time in seconds written as plain decimal
// digits (no sign, no spaces), as Stripe and Slack send it. The digits are
// also hashed verbatim, so anything else is refused rather than normalised.
func parseUnixSeconds(s string) (int64, bool) {
	if s == "" || len(s) > 12 { // 12 digits reach the year 33658
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
