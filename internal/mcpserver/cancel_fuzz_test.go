package mcpserver

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// FuzzWatchPassesEveryByteThrough: the watcher sits between the client and
// mcp-go on stdin; whatever arrives, in whatever chunks, it must hand every
// byte on unchanged and in order, never panic, and note the request id of
// exactly the lines that are cancellations (see cancellationIn), however
// the lines are cut by Reads.
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
		want, lines := cancellationsIn(in)
		if lines > maxPendingCancels {
			return // older ids were evicted, as they should be
		}
		for id := range want {
			if !c.take(id) {
				t.Fatalf("the cancellation of request %s was not noted; input %q", id, in)
			}
		}
		if n := c.pending(); n != 0 {
			t.Fatalf("%d ids noted from lines that are no cancellation; input %q", n, in)
		}
	})
}

// cancellationsIn returns, independently of the watcher, the request ids
// that the lines of in (up to maxCancelLine bytes; the last one may end
// without its newline, as the transport reads it too) cancel, and how many
// lines cancel something.
func cancellationsIn(in []byte) (ids map[string]bool, lines int) {
	ids = map[string]bool{}
	for _, line := range bytes.Split(in, []byte("\n")) {
		if len(line) > maxCancelLine {
			continue
		}
		if id, ok := cancellationIn(line); ok {
			ids[id] = true
			lines++
		}
	}
	return ids, lines
}

// cancellationIn reports the request id a line cancels: a JSON-RPC 2.0
// notification (no id, or a null one) of method notifications/cancelled,
// spelled out in the line (the watcher's one cheap filter), whose
// requestId is a string or a number, as mcp-go decodes them.
func cancellationIn(line []byte) (string, bool) {
	if !bytes.Contains(line, []byte(mcp.MethodNotificationCancelled)) {
		return "", false
	}
	var n struct {
		JSONRPC, Method string
		ID              *json.RawMessage
		Params          struct{ RequestID any }
	}
	if json.Unmarshal(line, &n) != nil || n.JSONRPC != "2.0" || n.Method != "notifications/cancelled" {
		return "", false
	}
	if n.ID != nil && string(*n.ID) != "null" {
		return "", false
	}
	return requestIDKey(n.Params.RequestID)
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
