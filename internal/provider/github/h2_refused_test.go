package github_test

import (
	"crypto/tls"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// httpx takes GetBody away from every request that must not be repeated,
// so that net/http's HTTP/2 client cannot re-send a POST after a
// PROTOCOL_ERROR reset. The two refusals HTTP/2 guarantees were NOT
// processed, RST_STREAM REFUSED_STREAM (RFC 9113 8.7) and a graceful GOAWAY
// whose last stream ID is below the request's, must still be retried (by
// httpx, from the caller's body), not reported in doubt: an ordinary server
// restart or stream-limit refusal must not leave createTicket's key in doubt.
func TestAPOSTRefusedUnprocessedOverHTTP2IsRetried(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"refused_stream", "goaway"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var created, refused atomic.Int64
			c := rawH2Client(t, func(conn *tls.Conn) { refusingH2(conn, mode, &created, &refused) })

			got, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k1"})
			require.GreaterOrEqual(t, refused.Load(), int64(1), "the server saw the request (and refused its first stream unprocessed)")
			require.NoError(t, err, "a stream the server refused unprocessed is safe to send again")
			assert.EqualValues(t, 1, created.Load())
			assert.Equal(t, 2, got.Number)
		})
	}
}

// refusingH2: the first complete request is refused without being acted
// on (REFUSED_STREAM, or GOAWAY with last stream 0); later ones get a 200.
func refusingH2(c *tls.Conn, mode string, created, refused *atomic.Int64) {
	serveRawH2(c, func(stream uint32, write h2Frame) bool {
		if refused.Add(1) == 1 {
			if mode == "goaway" {
				// last stream 0: nothing on this connection was processed
				write(0x7, 0, 0, []byte{0, 0, 0, 0, 0, 0, 0, 0})
				return false
			}
			write(0x3, 0, stream, []byte{0, 0, 0, 7}) // RST_STREAM REFUSED_STREAM
			return true
		}
		created.Add(1)
		answerIssue2(stream, write)
		return true
	})
}
