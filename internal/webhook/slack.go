package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// Slack's signature headers.
const (
	SlackSignatureHeader = "X-Slack-Signature"
	SlackTimestampHeader = "X-Slack-Request-Timestamp"
)

// ParseSlackTimestamp reads X-Slack-Request-Timestamp: Unix seconds as plain
// digits.
func ParseSlackTimestamp(s string) (int64, error) {
	if s == "" {
		return 0, ErrMissingSignature
	}
	ts, ok := parseUnixSeconds(s)
	if !ok {
		return 0, ErrMalformedSignature
	}
	return ts, nil
}

// ParseSlackSignature reads X-Slack-Signature: "v0=" and 64 hex digits.
func ParseSlackSignature(s string) ([]byte, error) {
	if s == "" {
		return nil, ErrMissingSignature
	}
	h, ok := strings.CutPrefix(s, "v0=")
	if !ok || len(h) != 2*sha256.Size || !isHex(h) {
		return nil, ErrMalformedSignature
	}
	b, _ := hex.DecodeString(h)
	return b, nil
}

// VerifySlack checks a Slack request signature: HMAC-SHA256 of
// "v0:<timestamp>:<body>" with the signing secret, compared in constant time,
// and the timestamp within tolerance of now. It is slack-go's SecretsVerifier
// algorithm with the clock passed in, so tests can be exact.
func VerifySlack(payload []byte, header http.Header, secrets []config.Secret, now time.Time, tolerance time.Duration) error {
	if err := CheckSlackHeaders(header, secrets, now, tolerance); err != nil {
		return err
	}
	rawTS := header.Get(SlackTimestampHeader)
	sig, _ := ParseSlackSignature(header.Get(SlackSignatureHeader))
	for _, s := range secrets {
		if s.Reveal() == "" {
			continue // never a key: anyone can sign with it
		}
		if hmac.Equal(SlackSignature(payload, rawTS, s.Reveal()), sig) {
			return nil
		}
	}
	return ErrBadSignature
}

// CheckSlackHeaders is VerifySlack's part that needs no body: well-formed
// X-Slack-Signature and X-Slack-Request-Timestamp, the timestamp within
// tolerance and a configured secret (run before the body is read, as
// CheckGitHubHeaders).
func CheckSlackHeaders(header http.Header, secrets []config.Secret, now time.Time, tolerance time.Duration) error {
	if _, err := ParseSlackSignature(header.Get(SlackSignatureHeader)); err != nil {
		return err
	}
	ts, err := ParseSlackTimestamp(header.Get(SlackTimestampHeader))
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, now, tolerance); err != nil {
		return err
	}
	if !anySecret(secrets) {
		return ErrNoSecret
	}
	return nil
}

// SlackSignature computes the v0 signature of a body sent at timestamp (as
// written in the header). Tests and the load generator sign with it.
func SlackSignature(payload []byte, timestamp, secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(payload)
	return mac.Sum(nil)
}
