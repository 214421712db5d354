package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// A burst of calls, some cancelled right after they are sent, pings, and a
// last call without its newline, then the end of input: serve answers
// every request exactly once, audits each call once, and exits 0 (a
// reviewer's test, kept).
func TestTheEndOfInputAfterAMixedBurstAnswersAndAuditsEachOnce(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rand := rand.New(rand.NewPCG(seed, seed))
	s := startRaw(t, nil)
	s.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Delay: 20 * time.Millisecond})
	var lines []string
	var ids []string
	calls := 0
	for i := range 60 {
		id := fmt.Sprint("b", i)
		ids = append(ids, id)
		lines = append(lines, callLine(id, "createTicket", map[string]any{"repo": "acme/app", "title": fmt.Sprint("burst ", i)}, nil))
		calls++
		switch rand.IntN(4) {
		case 0:
			lines = append(lines, cancelLine(id))
		case 1:
			pid := fmt.Sprint("p", i)
			ids = append(ids, pid)
			lines = append(lines, fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":"ping"}`, pid))
		}
	}
	ids = append(ids, "last")
	calls++
	lines = append(lines, callLine("last", "createTicket", map[string]any{"repo": "acme/app", "title": "last"}, nil))
	_, err := io.WriteString(s.stdin, strings.Join(lines, "\n"))
	require.NoError(t, err)
	require.NoError(t, s.stdin.Close())
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after the end of input")
	}
	require.NoError(t, s.cmd.Wait(), "stderr: %s", s.stderr.String())
	count := map[string]int{}
	for _, m := range s.snapshot() {
		if id, ok := m["id"].(string); ok && m["method"] == nil {
			count[id]++
		}
	}
	for _, id := range ids {
		assert.Equal(t, 1, count[id], "request %s answered once", id)
	}
	terms := terminalByCall(s.records(), "createTicket")
	assert.Len(t, terms, calls)
	for id, st := range terms {
		assert.Len(t, st, 1, "call %s: terminal records %v", id, st)
	}
	assert.Empty(t, s.badLines())
}
