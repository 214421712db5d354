package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Progress keeps a session's progress notifications in step with the
// responses, as MCP requires: each token's progress increases, and nothing
// for a request is written after its response.
//
// mcp-go queues a notification for a goroutine of the transport (Stdio)
// to write, while the goroutine that ran the call writes its response as
// soon as the handler returns, so a notification queued during the call's
// last wait could be written after the response (seen with a client slow
// to read and under load, and possible whenever the last wait is short or
// cancelled). So the server's output goes through Output, which writes a progress notification
// only while the call its token belongs to runs, and only if it increases
// that call's progress; the handler ends its call's progress before it
// returns, so before the response is written. A notification that comes
// too late is dropped: progress is advisory, the response says how the call
// ended. (A client that reuses a token as soon as its call is answered may
// get a leftover of the earlier call's progress as the new call's first.)
type Progress struct {
	mu     sync.Mutex
	active map[string]*callProgress // token (its JSON) -> the call running with it
}

// NewProgress returns an empty registry: pass it in Options.Progress and
// write the server's output through its Output.
func NewProgress() *Progress {
	return &Progress{active: map[string]*callProgress{}}
}

// Output returns a writer that passes everything written to w through
// unchanged, except progress notifications whose call has ended or that do
// not increase its progress, which it drops. mcp-go writes each message
// with one Write.
func (p *Progress) Output(w io.Writer) io.Writer {
	return &progressWriter{w: w, p: p}
}

// callProgress numbers one call's progress notifications and sends them, in
// the order numbered, until the call ends.
type callProgress struct {
	p     *Progress // nil: notifications are sent unchecked
	key   string
	token mcp.ProgressToken
	send  func(params map[string]any)

	mu    sync.Mutex
	step  float64
	ended bool

	written float64 // the last progress Output wrote, under p.mu
}

// startProgress returns the progress of a call with token (nil when the
// client sent none), registered with p when p is set. Its end must run
// before the call's response is written.
func startProgress(p *Progress, token mcp.ProgressToken, send func(map[string]any)) *callProgress {
	if token == nil {
		return nil
	}
	c := &callProgress{p: p, token: token, send: send}
	if p == nil {
		return c
	}
	key, err := json.Marshal(token)
	if err != nil {
		return nil // not JSON: no client could have sent it
	}
	c.key = string(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	// MCP wants tokens unique among running requests; of two calls given
	// one, the later gets the notifications.
	p.active[c.key] = c
	return c
}

// notify sends the next progress notification with msg, unless the call
// ended. Numbering and queueing under one lock keep the queue's order that
// of the numbers, whatever goroutine reports.
func (c *callProgress) notify(msg string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.step++
	c.send(map[string]any{"progressToken": c.token, "progress": c.step, "message": msg})
}

// end stops the call's notifications: none is queued after it, and Output
// drops any still queued. Output writes a notification under p.mu, so once
// end returns, none of this call's is being written.
func (c *callProgress) end() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	if c.p == nil {
		return
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.active[c.key] == c {
		delete(c.p.active, c.key)
	}
}

// progressWriter is Progress.Output.
type progressWriter struct {
	w io.Writer
	p *Progress
}

var progressMethod = []byte(`"` + mcp.MethodNotificationProgress + `"`)

// Write writes b unless it is a progress notification Output drops. Other
// messages cost one bytes.Contains.
func (pw *progressWriter) Write(b []byte) (int, error) {
	if !bytes.Contains(b, progressMethod) {
		return pw.w.Write(b)
	}
	key, progress, ok := progressOf(b)
	if !ok {
		return pw.w.Write(b)
	}
	pw.p.mu.Lock()
	defer pw.p.mu.Unlock()
	c := pw.p.active[key]
	if c == nil || progress <= c.written {
		return len(b), nil // its call has ended, or it comes out of order
	}
	c.written = progress
	return pw.w.Write(b)
}

// progressOf returns the token (as JSON) and progress of a progress
// notification, ok false for any other message.
func progressOf(b []byte) (key string, progress float64, ok bool) {
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			ProgressToken json.RawMessage `json:"progressToken"`
			Progress      float64         `json:"progress"`
		} `json:"params"`
	}
	if json.Unmarshal(b, &msg) != nil || msg.Method != string(mcp.MethodNotificationProgress) || len(msg.ID) > 0 {
		return "", 0, false
	}
	return string(msg.Params.ProgressToken), msg.Params.Progress, true
}

// sender sends a progress notification to the client of ctx's session.
// mcp-go queues it without blocking, and drops it if its queue is full.
func sender(ctx context.Context, s *server.MCPServer) func(map[string]any) {
	return func(params map[string]any) {
		_ = s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), params)
	}
}
