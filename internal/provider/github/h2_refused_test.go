package github_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
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
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.TLS = &tls.Config{NextProtos: []string{"h2"}}
			srv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
				"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) { refusingH2(c, mode, &created, &refused) },
			}
			srv.StartTLS()
			t.Cleanup(srv.Close)

			base := &http.Transport{
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test server
				ForceAttemptHTTP2: true,
			}
			t.Cleanup(base.CloseIdleConnections)
			hc := &http.Client{Transport: httpx.New(httpx.Options{Provider: "github", Base: base})}
			c := github.New(github.Config{BaseURL: srv.URL + "/", Token: config.NewSecret("ghp_reviewtoken"), HTTPClient: hc})

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
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	var mu sync.Mutex
	write := func(typ, flags byte, stream uint32, payload []byte) {
		mu.Lock()
		defer mu.Unlock()
		h := make([]byte, 9)
		h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
		h[3], h[4] = typ, flags
		binary.BigEndian.PutUint32(h[5:], stream)
		_, _ = c.Write(append(h, payload...))
	}
	preface := make([]byte, 24)
	if _, err := io.ReadFull(r, preface); err != nil {
		return
	}
	write(0x4, 0, 0, nil) // SETTINGS
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		done := false
		switch typ {
		case 0x4:
			if flags&0x1 == 0 {
				write(0x4, 0x1, 0, nil)
			}
		case 0x6:
			if flags&0x1 == 0 {
				write(0x6, 0x1, 0, payload)
			}
		case 0x7:
			return
		case 0x1, 0x0:
			done = flags&0x1 != 0
		}
		if !done {
			continue
		}
		if refused.Add(1) == 1 {
			if mode == "goaway" {
				// last stream 0: nothing on this connection was processed
				write(0x7, 0, 0, []byte{0, 0, 0, 0, 0, 0, 0, 0})
				return
			}
			write(0x3, 0, stream, []byte{0, 0, 0, 7}) // RST_STREAM REFUSED_STREAM
			continue
		}
		created.Add(1)
		write(0x1, 0x4, stream, []byte{0x88})
		write(0x0, 0x1, stream, []byte(`{"number":2,"html_url":"https://github.com/acme/widgets/issues/2"}`))
	}
}
