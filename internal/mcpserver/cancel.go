package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// Cancellations makes a client's notifications/cancelled reach a tools/call
// that has not started yet.
//
// serve's stdio transport (Stdio) queues each tools/call for a pool of
// workers, and mcp-go's MCPServer stores the call's cancel func only when a
// worker has it handled; a
// cancellation read before that finds nothing to cancel and is dropped, and
// the call, once it starts, sends what the client stopped. So the input is
// watched as it is read (Watch): every cancellation's request id is noted
// here before mcp-go handles the line, and a hook that runs when a worker
// starts a call, after mcp-go stored its cancel func, takes the call's id
// back out and marks the call cancelled. A cancellation mcp-go handles
// itself (the call was running) leaves its id noted until evicted: at most
// maxPendingCancels ids are kept, the oldest go first, so cancellations of
// finished or unknown ids cannot grow memory. (JSON-RPC forbids reusing a
// request id in a session; a client that did would see the new call
// refused as cancelled, which sends nothing.)
type Cancellations struct {
	mu   sync.Mutex
	ids  map[string]uint64 // noted id (canonical JSON) -> its sequence number
	ring []cancelSlot      // the last maxPendingCancels notes, by seq % len
	seq  uint64
}

type cancelSlot struct {
	id  string
	seq uint64
}

// maxPendingCancels bounds the ids noted: serve's transport queues at most
// 1000 calls for its 5 workers, so a cancellation of a call still waiting is
// among the last thousand or so noted unless the client sent thousands more
// since.
const maxPendingCancels = 4096

// maxCancelLine is the longest input line looked at for a cancellation; a
// notifications/cancelled is a few hundred bytes, and a longer line (a big
// tool call) is not copied past this.
const maxCancelLine = 64 << 10

// cancelledField marks, in a call's _meta, a call the client cancelled
// before it started. Its value is a cancelledMark, which no JSON decodes
// to, so a client cannot set it (though it could only cancel its own call).
const cancelledField = "saas-mcp/cancelledBeforeStart"

type cancelledMark struct{}

// NewCancellations returns an empty registry: Watch the server's input with
// it and pass it in Options.Cancellations.
func NewCancellations() *Cancellations {
	return &Cancellations{ids: map[string]uint64{}}
}

// Watch returns a reader that passes r's bytes through unchanged and notes
// the request id of every notifications/cancelled line read.
func (c *Cancellations) Watch(r io.Reader) io.Reader {
	return &cancelWatcher{r: r, c: c, lines: lineSplitter{max: maxCancelLine}}
}

// note records a cancelled request id, evicting the oldest when full.
func (c *Cancellations) note(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring == nil {
		c.ring = make([]cancelSlot, maxPendingCancels)
	}
	c.seq++
	slot := &c.ring[c.seq%uint64(len(c.ring))]
	if seq, ok := c.ids[slot.id]; ok && seq == slot.seq {
		delete(c.ids, slot.id)
	}
	*slot = cancelSlot{id: id, seq: c.seq}
	c.ids[id] = c.seq
}

// take reports whether id was noted as cancelled, and forgets it.
func (c *Cancellations) take(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ids[id]; !ok {
		return false
	}
	delete(c.ids, id)
	return true
}

// pending is the number of ids noted and not yet taken.
func (c *Cancellations) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// beforeCallTool is the mcp-go hook run when a worker starts a tools/call,
// after mcp-go stored its cancel func: a cancellation noted before then
// (and dropped by mcp-go) marks the request, and the handler then runs it
// already cancelled.
func (c *Cancellations) beforeCallTool(_ context.Context, id any, req *mcp.CallToolRequest) {
	key, ok := requestIDKey(id)
	if !ok || !c.take(key) {
		return
	}
	if req.Params.Meta == nil {
		req.Params.Meta = &mcp.Meta{}
	}
	if req.Params.Meta.AdditionalFields == nil {
		req.Params.Meta.AdditionalFields = map[string]any{}
	}
	req.Params.Meta.AdditionalFields[cancelledField] = cancelledMark{}
}

// cancelledBeforeStart reports whether the hook marked req.
func cancelledBeforeStart(req mcp.CallToolRequest) bool {
	if req.Params.Meta == nil {
		return false
	}
	_, ok := req.Params.Meta.AdditionalFields[cancelledField].(cancelledMark)
	return ok
}

// requestIDKey is the canonical JSON of a request id, as mcp-go decodes it
// (a string, or a number as float64), so that 7, 7.0 and 7e0 are one id
// and "7" another.
func requestIDKey(id any) (string, bool) {
	if r, ok := id.(mcp.RequestId); ok {
		id = r.Value()
	}
	switch id.(type) {
	case string, float64:
	default:
		return "", false
	}
	b, err := json.Marshal(id)
	if err != nil {
		return "", false
	}
	return string(b), true
}

var cancelledMethod = []byte(mcp.MethodNotificationCancelled)

// noteLine notes the request id if line is a notifications/cancelled that
// mcp-go will handle as one. Other lines cost one bytes.Contains.
func (c *Cancellations) noteLine(line []byte) {
	if !bytes.Contains(line, cancelledMethod) {
		return
	}
	var msg struct {
		JSONRPC string          `json:"jsonrpc"`
		Method  string          `json:"method"`
		ID      json.RawMessage `json:"id"`
		Params  struct {
			RequestID json.RawMessage `json:"requestId"`
		} `json:"params"`
	}
	if json.Unmarshal(line, &msg) != nil || msg.JSONRPC != mcp.JSONRPC_VERSION || msg.Method != string(mcp.MethodNotificationCancelled) {
		return
	}
	if len(msg.ID) > 0 && string(msg.ID) != "null" {
		return // a request, not a notification: mcp-go answers it, cancels nothing
	}
	var id any
	if json.Unmarshal(msg.Params.RequestID, &id) != nil {
		return
	}
	if key, ok := requestIDKey(id); ok {
		c.note(key)
	}
}

// cancelWatcher splits what it reads into lines for noteLine. Only a line
// cut by a Read is copied (up to maxCancelLine; a longer one is no
// cancellation); whole lines are looked at in place.
type cancelWatcher struct {
	r     io.Reader
	c     *Cancellations
	lines lineSplitter
}

func (w *cancelWatcher) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	note := func(line []byte, long bool) {
		if !long {
			w.c.noteLine(line)
		}
	}
	w.lines.scan(p[:n], note)
	if errors.Is(err, io.EOF) {
		// The transport runs a last line without its newline; so is a
		// last cancellation noted (found in review, when the end of input
		// was held by a reader that added the newline).
		w.lines.end(note)
	}
	return n, err
}
