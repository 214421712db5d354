package webhook

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// A request whose headers already say it cannot verify (no or malformed
// signature, a stale timestamp) is refused before its body is read: the
// body, up to WEBHOOK_MAX_BODY (25 MiB for GitHub), is not read first, and
// a client that waits for 100 Continue gets the refusal instead (review
// observation: unauthenticated clients could make the receiver read and
// hold whole bodies). Each request here declares a body it never sends: the
// answer must come anyway, with the same status and audit record as before.
func TestARequestThatCannotVerifyIsRefusedBeforeItsBodyIsRead(t *testing.T) {
	t.Parallel()
	stale := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		status  int
		why     string
	}{
		{"github without a signature", "/webhooks/github", map[string]string{GitHubEventHeader: "issues"}, 401, ErrMissingSignature.Error()},
		{"github with only the SHA-1 signature", "/webhooks/github", map[string]string{GitHubSHA1SignatureHeader: "sha1=00"}, 401, ErrSHA1Only.Error()},
		{"stripe with a stale timestamp", "/webhooks/stripe", map[string]string{StripeSignatureHeader: "t=" + stale + ",v1=" + strings.Repeat("a", 64)}, 401, ErrStaleTimestamp.Error()},
		{"slack without a timestamp", "/webhooks/slack", map[string]string{SlackSignatureHeader: "v0=" + strings.Repeat("b", 64)}, 401, ErrMissingSignature.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			conn, err := net.Dial("tcp", strings.TrimPrefix(b.url, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			var req strings.Builder
			req.WriteString("POST " + tc.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n")
			for k, v := range tc.headers {
				req.WriteString(k + ": " + v + "\r\n")
			}
			req.WriteString("\r\n")
			_, err = conn.Write([]byte(req.String()))
			require.NoError(t, err)

			require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err, "no answer while the declared body was not sent: the handler is reading it")
			_ = res.Body.Close()
			assert.Equal(t, tc.status, res.StatusCode)
			recs := b.sink.byStatus(audit.StatusRejected)
			require.Len(t, recs, 1)
			assert.Equal(t, tc.why, recs[0].Error)
		})
	}
}
