package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A line with an id and no method (here a client's JSON-RPC error
// response to nothing pending) does not let a later call go unanswered.
// Found in review (of HoldEOF, which held the end of input back from
// mcp-go's StdioServer by counting lines; the transport now waits for the
// requests it dispatched): HoldEOF did not count it as a request, but mcp-go
// answers it ("Method  not found", with that id), and the answer was
// counted: answers then ran ahead of requests, so a big call read
// afterwards was not owed its answer, the end of input passed after 50 ms
// of quiet while mcp-go was still parsing it, and the call was cancelled.
func TestAStrayAnswerLineDoesNotCancelABigLastCall(t *testing.T) {
	t.Parallel()
	s := startRaw(t, nil)
	s.send(`{"jsonrpc":"2.0","id":"stale","error":{"code":-32601,"message":"no"}}`)
	stale := s.response("stale", 10*time.Second)
	require.NotNil(t, stale, "mcp-go answers the response line")
	sendBigCallAndCloseInput(t, s)
}
