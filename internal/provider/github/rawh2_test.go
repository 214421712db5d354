package github_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// h2Frame writes one HTTP/2 frame.
type h2Frame func(typ, flags byte, stream uint32, payload []byte)

// serveRawH2 is a minimal HTTP/2 server on c, enough to misbehave on
// purpose: it answers the preface, SETTINGS and PING, and calls onRequest
// for each complete request (END_STREAM) with the stream and a frame
// writer. onRequest returns false to end the connection.
func serveRawH2(c *tls.Conn, onRequest func(stream uint32, write h2Frame) bool) {
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
			if flags&0x1 != 0 && !onRequest(stream, write) { // END_STREAM: the whole request is in
				return
			}
		}
	}
}

// answerIssue2 answers a request with 200 and an issue.
func answerIssue2(stream uint32, write h2Frame) {
	write(0x1, 0x4, stream, []byte{0x88}) // HEADERS :status 200, END_HEADERS
	write(0x0, 0x1, stream, []byte(`{"number":2,"html_url":"https://github.com/acme/widgets/issues/2"}`))
}

// rawH2Client serves serve (over TLS, HTTP/2 only) and returns a GitHub
// client that reaches it through the retrying transport, as serve's does.
func rawH2Client(t *testing.T, serve func(c *tls.Conn)) github.Client {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{NextProtos: []string{"h2"}}
	srv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
		"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) { serve(c) },
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test server
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(base.CloseIdleConnections)
	hc := &http.Client{Transport: httpx.New(httpx.Options{Provider: "github", Base: base})}
	return github.New(github.Config{BaseURL: srv.URL + "/", Token: config.NewSecret("ghp_reviewtoken"), HTTPClient: hc})
}
