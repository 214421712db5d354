package webhook

import (
	"net/http"
	"strings"

	"github.com/google/go-github/v93/github"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// GitHub's webhook headers.
const (
	GitHubSignatureHeader     = "X-Hub-Signature-256"
	GitHubSHA1SignatureHeader = "X-Hub-Signature"
	GitHubEventHeader         = "X-GitHub-Event"
	GitHubDeliveryHeader      = "X-GitHub-Delivery"
	GitHubHookIDHeader        = "X-GitHub-Hook-ID"
)

// VerifyGitHub checks X-Hub-Signature-256 over the raw payload against each
// secret. The SHA-1 X-Hub-Signature alone is refused: go-github's
// ValidatePayload would fall back to it, so we call ValidateSignature with the
// SHA-256 header only, after checking its prefix.
func VerifyGitHub(payload []byte, header http.Header, secrets []config.Secret) error {
	if err := CheckGitHubHeaders(header, secrets); err != nil {
		return err
	}
	sig := header.Get(GitHubSignatureHeader)
	for _, s := range secrets {
		if s.Reveal() == "" {
			continue // never a key: anyone can sign with it
		}
		if github.ValidateSignature(sig, payload, []byte(s.Reveal())) == nil {
			return nil
		}
	}
	return ErrBadSignature
}

// CheckGitHubHeaders is VerifyGitHub's part that needs no body: a
// well-formed X-Hub-Signature-256 and a configured secret. The receiver
// runs it before reading the body, so a request that cannot verify does
// not get its (up to 25 MiB) body read first.
func CheckGitHubHeaders(header http.Header, secrets []config.Secret) error {
	sig := header.Get(GitHubSignatureHeader)
	if sig == "" {
		if header.Get(GitHubSHA1SignatureHeader) != "" {
			return ErrSHA1Only
		}
		return ErrMissingSignature
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok || len(hexSig) != 64 || !isHex(hexSig) {
		return ErrMalformedSignature
	}
	if !anySecret(secrets) {
		return ErrNoSecret
	}
	return nil
}
