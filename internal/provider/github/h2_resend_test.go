package github_test

import (
	"crypto/tls"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// TestAPOSTWhoseHTTP2StreamIsResetAfterItsBodyIsNotSentAgain: GitHub and
// Slack answer over HTTP/2, and net/http's HTTP/2 client re-sends on its own
// a request whose stream the server reset with PROTOCOL_ERROR
// (golang/go#47635), POSTs included, whenever it can rewind the body. A
// server that took the whole request, created the issue, then reset the
// stream would get the POST twice. httpx keeps the base transport from
// rewinding a request that must not be repeated, so the reset surfaces as a
// call that may have taken effect.
func TestAPOSTWhoseHTTP2StreamIsResetAfterItsBodyIsNotSentAgain(t *testing.T) {
	t.Parallel()
	var created atomic.Int64 // complete POSTs the server acted on
	c := rawH2Client(t, func(conn *tls.Conn) { rawH2(conn, &created) })

	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k1"})
	assert.EqualValues(t, 1, created.Load(),
		"the POST was sent again after the server had acted on it and reset the stream: a second issue")
	require.Error(t, err)
	assert.True(t, provider.InDoubt(err), "the reset came after the request was sent: %v", err)
}

// rawH2: the first complete request is acted on and then its stream is
// reset with PROTOCOL_ERROR; later ones get a 200 with an issue.
func rawH2(c *tls.Conn, created *atomic.Int64) {
	serveRawH2(c, func(stream uint32, write h2Frame) bool {
		if created.Add(1) == 1 {
			// The issue exists now; then the stream is reset.
			write(0x3, 0, stream, []byte{0, 0, 0, 1}) // RST_STREAM PROTOCOL_ERROR
			return true
		}
		answerIssue2(stream, write)
		return true
	})
}
