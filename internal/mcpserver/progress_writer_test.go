package mcpserver

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queue stands in for mcp-go's notification queue: it keeps what a call
// sends, in order, and writes it as the stdio transport does.
type queue struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (q *queue) send(params map[string]any) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, params)
}

// line is params as the stdio transport writes the notification.
func line(t *testing.T, params map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
		Method: string(mcp.MethodNotificationProgress), Params: mcp.NotificationParams{AdditionalFields: params}}})
	require.NoError(t, err)
	return append(b, '\n')
}

func write(t *testing.T, w interface{ Write([]byte) (int, error) }, b []byte) {
	t.Helper()
	n, err := w.Write(b)
	require.NoError(t, err)
	require.Equal(t, len(b), n, "a dropped line counts as written, or mcp-go would log an error")
}

func TestAProgressNotificationStillQueuedWhenItsCallEndsIsNotWritten(t *testing.T) {
	t.Parallel()
	p := NewProgress()
	var out bytes.Buffer
	w := p.Output(&out)
	q := &queue{}
	c := startProgress(p, "tok", q.send)
	c.notify("waiting 1s")
	c.notify("waiting 2s")
	write(t, w, line(t, q.sent[0]))
	c.end()
	c.notify("after the end") // not even queued
	require.Len(t, q.sent, 2)

	response := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}` + "\n")
	write(t, w, line(t, q.sent[1]))
	write(t, w, response)
	assert.Equal(t, string(line(t, q.sent[0]))+string(response), out.String(),
		"the first notification, then the response, unchanged")
}

func TestProgressThatDoesNotIncreaseOrHasNoRunningCallIsNotWritten(t *testing.T) {
	t.Parallel()
	p := NewProgress()
	var out bytes.Buffer
	w := p.Output(&out)
	startProgress(p, "a", (&queue{}).send)
	startProgress(p, 7.0, (&queue{}).send) // a number token, as mcp-go decodes it

	for _, params := range []map[string]any{
		{"progressToken": "a", "progress": 2.0},
		{"progressToken": "a", "progress": 1.0}, // out of order
		{"progressToken": "a", "progress": 2.0}, // not increasing
		{"progressToken": 7.0, "progress": 1.0}, // another token counts on its own
		{"progressToken": "7", "progress": 3.0}, // no call runs with this one
		{"progressToken": "a", "progress": 3.0},
	} {
		write(t, w, line(t, params))
	}
	var got []string
	for _, l := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var msg struct {
			Params struct {
				ProgressToken json.RawMessage `json:"progressToken"`
				Progress      float64         `json:"progress"`
			} `json:"params"`
		}
		require.NoError(t, json.Unmarshal(l, &msg))
		got = append(got, string(msg.Params.ProgressToken)+"="+strconv.FormatFloat(msg.Params.Progress, 'g', -1, 64))
	}
	assert.Equal(t, []string{`"a"=2`, `7=1`, `"a"=3`}, got)
}

func TestReportsOfOneCallFromManyGoroutinesAreQueuedInTheOrderOfTheirProgress(t *testing.T) {
	t.Parallel()
	for range 50 {
		q := &queue{}
		c := startProgress(nil, "tok", q.send)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					c.notify("waiting")
				}
			})
		}
		wg.Wait()
		require.Len(t, q.sent, 160)
		for i, params := range q.sent {
			require.Equal(t, float64(i+1), params["progress"], "notification %d", i)
		}
	}
}

func TestACallWithoutAProgressTokenSendsNoProgress(t *testing.T) {
	t.Parallel()
	q := &queue{}
	c := startProgress(NewProgress(), nil, q.send)
	c.notify("waiting")
	c.end()
	assert.Empty(t, q.sent)
}
