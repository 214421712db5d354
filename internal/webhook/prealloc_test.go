package webhook

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestADeclaredLengthDoesNotReserveMemoryBeforeTheBytesCome: an
// unauthenticated client that sends only headers with "Content-Length:
// 26214399" to /webhooks/github must not make the receiver hold a 25 MiB
// buffer per connection for up to ReadTimeout (a few hundred such
// connections would exhaust the host): memory is bounded by the bytes that
// actually arrive.
func TestADeclaredLengthDoesNotReserveMemoryBeforeTheBytesCome(t *testing.T) {
	b := setup(t, nil)
	var entered atomic.Int32 // requests whose handler has begun (and so reads the body next)
	srv := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		b.h.ServeHTTP(w, r)
	}), ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	const conns = 8
	open := func() {
		for i := 0; i < conns; i++ {
			c, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			_, err = fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
				"X-GitHub-Event: issues\r\nX-GitHub-Delivery: g%d\r\nX-Hub-Signature-256: sha256=%064d\r\n"+
				"Content-Length: %d\r\n\r\n{", i, 0, 25<<20-1)
			require.NoError(t, err)
		}
		// Every handler has begun; give them a moment more to be waiting
		// inside readBody, where a reservation would have been made.
		require.Eventually(t, func() bool { return entered.Load() == conns }, 10*time.Second, time.Millisecond)
		time.Sleep(100 * time.Millisecond)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	open()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d MiB for %d connections that declared 25 MiB and sent 1 byte each", grew>>20, conns)
	assert.Less(t, grew, int64(32<<20), "headers alone made the receiver reserve the declared body size")
}
