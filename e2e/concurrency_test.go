package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// outcome is what one of many concurrent calls with one key got.
type outcome struct {
	ref      string // the effect the result names; "" for an error
	replayed bool
	errText  string
}

// callConcurrently makes n calls at once on each session, all with the
// same arguments, and returns what each got.
func callConcurrently(t *testing.T, sessions []*mcp.ClientSession, n int, tool effectTool, args map[string]any) []outcome {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		outs []outcome
		gate = make(chan struct{})
	)
	for _, s := range sessions {
		for range n {
			wg.Go(func() {
				<-gate
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := try(ctx, s, tool.name, args)
				var o outcome
				switch {
				case err != nil:
					o.errText = "transport: " + err.Error()
				case res.IsError:
					o.errText = text(res)
				default:
					// structured would stop the test from this goroutine,
					// which testing forbids; decode here and check later.
					var out map[string]any
					if b, err := json.Marshal(res.StructuredContent); err == nil && json.Unmarshal(b, &out) == nil {
						o.ref = tool.ref(out)
						o.replayed, _ = out["replayed"].(bool)
					}
				}
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			})
		}
	}
	close(gate)
	wg.Wait()
	return outs
}

// checkOneWinner checks the outcomes of concurrent calls with one key
// against the fake: one effect; each call got that effect (at most one of
// them fresh, the others replayed) or an "in progress" tool error.
func checkOneWinner(t *testing.T, outs []outcome, effects []effect, key string) {
	t.Helper()
	require.Len(t, effects, 1, "one effect for one key")
	assert.Equal(t, key, effects[0].key)
	fresh := 0
	for _, o := range outs {
		if o.errText != "" {
			assert.Contains(t, o.errText, "in progress", "a losing call is told the first is still running")
			continue
		}
		assert.Equal(t, effects[0].ref, o.ref, "every result names the one effect")
		if !o.replayed {
			fresh++
		}
	}
	assert.Equal(t, 1, fresh, "exactly one call made the effect; outcomes: %+v", outs)
}

// TestConcurrentCallsWithOneKeyInOneProcessMakeOneEffect sends 16 calls with
// one new key at once over one session, to a slow provider.
func TestConcurrentCallsWithOneKeyInOneProcessMakeOneEffect(t *testing.T) {
	t.Parallel()
	for _, tool := range effectTools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, fastEnv(nil))
			h.fake.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Delay: 300 * time.Millisecond})
			args := tool.args("race1")

			outs := callConcurrently(t, []*mcp.ClientSession{h.session}, 16, tool, args)
			require.Len(t, outs, 16)
			checkOneWinner(t, outs, tool.effects(h.fake, "race1"), "key-race1")
			checkTrail(t, h.records(), "key-race1")
		})
	}
}

// TestTwoProcessesOnOneDataDirMakeOneEffect runs two servers on one data
// directory and audit log, each taking 8 concurrent calls with one new key.
func TestTwoProcessesOnOneDataDirMakeOneEffect(t *testing.T) {
	t.Parallel()
	for _, tool := range effectTools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, fastEnv(nil))
			other, _ := h.dial(h.vars)
			h.fake.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Delay: 300 * time.Millisecond})
			args := tool.args("race2")

			outs := callConcurrently(t, []*mcp.ClientSession{h.session, other}, 8, tool, args)
			require.Len(t, outs, 16)
			for _, o := range outs {
				require.False(t, strings.HasPrefix(o.errText, "transport:"), o.errText)
			}
			checkOneWinner(t, outs, tool.effects(h.fake, "race2"), "key-race2")
			checkTrail(t, h.records(), "key-race2")

			// Once settled, both processes replay the one effect.
			for _, s := range []*mcp.ClientSession{h.session, other} {
				out := settle(t, s, tool.name, args)
				assert.Equal(t, true, out["replayed"])
			}
			assert.Len(t, tool.effects(h.fake, "race2"), 1)
		})
	}
}
