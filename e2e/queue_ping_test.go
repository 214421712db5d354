package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// With mcp-go's 5 workers busy, further tools/call wait in its queue, and
// once that is full each further call runs on the loop that reads stdin,
// which then reads nothing else (a ping, a notifications/cancelled) until
// it ends. serve's queue holds 1000 (found in review: with mcp-go's default
// of 100, a ping sent after 108 slow calls took 6 to 12 s; MCP's ping
// utility: the receiver "MUST respond promptly").
func TestAPingIsAnsweredWhileManyCallsWaitForWorkers(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 6 * time.Second})
	for i := range 108 {
		s.send(callLine(fmt.Sprint("q", i), "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("queued ", i)}, nil))
	}
	require.Eventually(t, func() bool { return s.fake.Count("POST", "/repos/") >= 5 }, 10*time.Second, 10*time.Millisecond)
	sent := time.Now()
	s.send(`{"jsonrpc":"2.0","id":"ping-1","method":"ping"}`)
	s.response("ping-1", 60*time.Second)
	assert.Less(t, time.Since(sent), 2*time.Second, "ping answered only after %s", time.Since(sent))
}
