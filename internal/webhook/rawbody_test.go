package webhook

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Signatures are checked on the raw body (README, Webhooks): a body whose
// bytes carry whitespace a JSON parser or a trim would drop is accepted when
// signed over exactly those bytes, and refused when signed over anything
// else, such as the trimmed body.
func TestTheSignatureIsCheckedOnTheRawBody(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	raw := []byte("\n  {\"action\":\"opened\",\"issue\":{\"number\":1},\"repository\":{\"full_name\":\"acme/app\"}}\n\n")
	trimmed := raw[3 : len(raw)-2]

	code, body := do(t, githubRequest(t, b.url, "raw-1", raw, "gh-secret"))
	assert.Equal(t, http.StatusAccepted, code, "signed over the raw bytes: %s", body)

	req := githubRequest(t, b.url, "raw-2", raw, "gh-secret")
	req.Header.Set(GitHubSignatureHeader, githubSig(trimmed, "gh-secret"))
	code, body = do(t, req)
	assert.Equal(t, http.StatusUnauthorized, code, "signed over other bytes than were sent: %s", body)
}
