package webhook

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With WEBHOOK_MAX_CONNS connections open, the next one is not served
// (its request waits in the listen queue) until one of them closes; then
// it is answered.
func TestConnectionsOverTheCapWaitUntilOneCloses(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0", 2)
	require.NoError(t, err)
	srv := NewServer("", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), ServerOptions{})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()

	get := func(c net.Conn) {
		_, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
	}
	answered := func(c net.Conn, within time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(within))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		get(c)
		require.True(t, answered(c, 5*time.Second), "a connection under the cap is served")
		held = append(held, c) // kept alive
	}
	extra, err := net.Dial("tcp", addr) // the kernel completes the handshake
	require.NoError(t, err)
	t.Cleanup(func() { _ = extra.Close() })
	get(extra)
	assert.False(t, answered(extra, 300*time.Millisecond), "a third connection was served with two open and a cap of 2")

	require.NoError(t, held[0].Close())
	assert.True(t, answered(extra, 5*time.Second), "served once a connection closed")
}
