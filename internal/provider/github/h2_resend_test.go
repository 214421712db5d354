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
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{NextProtos: []string{"h2"}}
	srv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
		"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) { rawH2(c, &created) },
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

	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: "acme/widgets", Title: "t", Key: "k1"})
	assert.EqualValues(t, 1, created.Load(),
		"the POST was sent again after the server had acted on it and reset the stream: a second issue")
	require.Error(t, err)
	assert.True(t, provider.InDoubt(err), "the reset came after the request was sent: %v", err)
}

// rawH2 is a minimal HTTP/2 server: the first complete request is acted on
// and then its stream is reset with PROTOCOL_ERROR; later ones get a 200
// with an issue.
func rawH2(c *tls.Conn, created *atomic.Int64) {
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
		case 0x4: // SETTINGS
			if flags&0x1 == 0 {
				write(0x4, 0x1, 0, nil)
			}
		case 0x6: // PING
			if flags&0x1 == 0 {
				write(0x6, 0x1, 0, payload)
			}
		case 0x7: // GOAWAY
			return
		case 0x1, 0x0: // HEADERS, DATA
			done = flags&0x1 != 0 // END_STREAM: the whole request is in
		}
		if !done {
			continue
		}
		if created.Add(1) == 1 {
			// The issue exists now; then the stream is reset.
			write(0x3, 0, stream, []byte{0, 0, 0, 1}) // RST_STREAM PROTOCOL_ERROR
			continue
		}
		write(0x1, 0x4, stream, []byte{0x88}) // HEADERS :status 200, END_HEADERS
		write(0x0, 0x1, stream, []byte(`{"number":2,"html_url":"https://github.com/acme/widgets/issues/2"}`))
	}
}
