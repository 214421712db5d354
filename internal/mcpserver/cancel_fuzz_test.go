package mcpserver

import (
	"bytes"
	"io"
	"testing"
)

// FuzzWatchPassesEveryByteThrough: the watcher sits between the client and
// mcp-go on stdin; whatever arrives, in whatever chunks, it must hand every
// byte on unchanged and in order, never panic, and keep the ids it notes
// bounded.
func FuzzWatchPassesEveryByteThrough(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`+"\n"), uint8(1))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}}`+"\r\n"+`{"jsonrpc":"2.0","id":1,"method":"ping"}`), uint8(3))
	f.Add([]byte("notifications/cancelled\n\n\xff{\"requestId\":1e400}\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		c := NewCancellations()
		r := c.Watch(&chunked{b: in, n: int(chunk%16) + 1})
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("input changed on its way through:\n in %q\nout %q", in, out)
		}
		if n := c.pending(); n > maxPendingCancels {
			t.Fatalf("%d ids noted, more than %d", n, maxPendingCancels)
		}
	})
}

// chunked reads b at most n bytes at a time, as a pipe may deliver it.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}
