package chain

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// countingStore counts Extend calls.
type countingStore struct {
	*memStore
	extends atomic.Int64
}

func (s *countingStore) Extend(ctx context.Context, key, owner string, until time.Time) error {
	s.extends.Add(1)
	return s.memStore.Extend(ctx, key, owner, until)
}

func TestHeartbeatStopsWhenTheCallEnds(t *testing.T) {
	t.Parallel()
	store := &countingStore{memStore: newMemStore()}
	idem := &Idempotency{
		Store: store, Owner: "me", Alive: func(string) bool { return true }, Now: time.Now,
		Audit: &memSink{}, Log: discard, Heartbeat: time.Millisecond,
	}
	tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Run: func(ctx context.Context, c *Call) (any, error) {
			// Long enough for several beats.
			require.Eventually(t, func() bool { return store.extends.Load() >= 2 }, 5*time.Second, time.Millisecond)
			return map[string]any{"number": 1}, nil
		},
	}
	_, err := idem.Middleware()(Final)(context.Background(), NewCall(tool, map[string]any{"repo": "a/b", "title": "t"}, "t", "sandbox", "c1"))
	require.NoError(t, err)
	after := store.extends.Load()
	assert.Never(t, func() bool { return store.extends.Load() != after }, 30*time.Millisecond, time.Millisecond,
		"no Extend once the call has returned")
}

// deferredSink records which method wrote each record.
type deferredSink struct {
	mu  sync.Mutex
	via []string
}

func (s *deferredSink) add(how string, r audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.via = append(s.via, r.Status+":"+how)
	return nil
}

func (s *deferredSink) Write(_ context.Context, r audit.Record) error { return s.add("sync", r) }
func (s *deferredSink) WriteDeferred(_ context.Context, r audit.Record) error {
	return s.add("deferred", r)
}

func TestNoAuditFsyncIsAwaitedDuringACall(t *testing.T) {
	t.Parallel()
	sink := &deferredSink{}
	tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Run: func(context.Context, *Call) (any, error) { return map[string]any{"number": 1}, nil }}
	h := Audit(sink, time.Now, discard)(Final)
	_, err := h(context.Background(), NewCall(tool, map[string]any{}, "t", "sandbox", "c1"))
	require.NoError(t, err)
	// Only the idempotency claim's fsync is on the call's path: the audit
	// records are appended at once and synced shortly after.
	assert.Equal(t, []string{"started:deferred", "succeeded:deferred"}, sink.via)
}

var _ idempotency.Store = (*countingStore)(nil)
