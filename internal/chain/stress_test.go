package chain

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestManyCancellingCallersOfOneKeyMakeOneEffect: the idempotency
// middleware on a real SQLite store and audit log, many goroutines per key,
// each call with a deadline of 1 to 20 ms (a client that cancels), and a
// provider that acts, fails in doubt after or before acting, fails
// definitely, or is cancelled mid-call. Every key ends with exactly one
// effect, and the only errors are the ones the README names (in progress,
// may have taken effect, the provider's own, the deadline). A cancelled
// claim once left the store's one write connection inside a transaction,
// after which every call with an existing key was refused (see
// internal/store/sqlite/cancel_test.go).
func TestManyCancellingCallersOfOneKeyMakeOneEffect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	defer store.Close()
	sink, err := audit.Open(filepath.Join(dir, "audit.ndjson"), audit.Options{Sync: true})
	require.NoError(t, err)
	defer sink.Close()

	var mu sync.Mutex
	effects := map[string][]int{} // key -> effect refs
	next := 0
	act := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		next++
		effects[key] = append(effects[key], next)
		return next
	}
	result := func(c *Call, n int) map[string]any {
		return map[string]any{"provider": "github", "number": n, "url": "u", "replayed": false, "idempotencyKey": c.Key}
	}
	tool := &Tool{
		Name: "createTicket", Provider: "github", Action: "create_issue",
		Target: func(a map[string]any) string { s, _ := a["repo"].(string); return s },
		Run: func(ctx context.Context, c *Call) (any, error) {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			switch r := rand.IntN(100); {
			case r < 50:
				return result(c, act(c.Key)), nil
			case r < 65:
				act(c.Key)
				return nil, &provider.Error{Provider: "github", Op: "create issue", Status: 502, InDoubt: true}
			case r < 75:
				return nil, &provider.Error{Provider: "github", Op: "create issue", InDoubt: true, Err: fmt.Errorf("timeout")}
			case r < 85:
				return nil, &provider.Error{Provider: "github", Op: "create issue", Status: 422}
			default:
				act(c.Key)
				<-ctx.Done() // the client cancels after the send
				return nil, ctx.Err()
			}
		},
		Reconcile: func(ctx context.Context, c *Call, since time.Time) (any, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if refs := effects[c.Key]; len(refs) > 0 {
				return result(c, refs[0]), true, nil
			}
			return nil, false, nil
		},
	}
	idem := &Idempotency{Store: store.Keys(), Owner: idempotency.OwnerID(), Alive: idempotency.Alive, Now: time.Now,
		Audit: sink, Log: discard, Policy: idempotency.Policy{Window: time.Minute, KeyTTL: time.Hour, Lease: time.Minute}}
	h := Wrap(Final, Audit(sink, time.Now, discard), idem.Middleware())

	const keys, perKey = 12, 16
	var emu sync.Mutex
	var problems []string
	got := map[string]map[string]int{}
	for round := 0; round < 8 && len(problems) == 0; round++ {
		var wg sync.WaitGroup
		for k := range keys {
			key := fmt.Sprintf("stress-%d-%d", round, k)
			for range perKey {
				wg.Go(func() {
					for try := 0; try < 400; try++ {
						cctx, cancel := context.WithTimeout(ctx, time.Duration(1+rand.IntN(20))*time.Millisecond)
						res, err := h(cctx, NewCall(tool, map[string]any{"repo": "acme/app", "title": key, "idempotencyKey": key}, "t", "sandbox", "c"))
						cancel()
						if err == nil {
							emu.Lock()
							if got[key] == nil {
								got[key] = map[string]int{}
							}
							var v struct{ Number int }
							_ = jsonUnmarshal(res.Value, &v)
							got[key][fmt.Sprint(v.Number)]++
							emu.Unlock()
							return
						}
						msg := err.Error()
						if !strings.Contains(msg, "in progress") && !strings.Contains(msg, "may have taken effect") &&
							!strings.Contains(msg, "HTTP 422") && !strings.Contains(msg, "context deadline") {
							emu.Lock()
							problems = append(problems, msg)
							emu.Unlock()
						}
						time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
					}
				})
			}
		}
		wg.Wait()
	}
	require.Empty(t, problems, "errors a healthy store never gives")
	for key, refs := range effects {
		assert.Len(t, refs, 1, "%s: effects %v", key, refs)
		assert.Len(t, got[key], 1, "%s: every success names one effect: %v", key, got[key])
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
