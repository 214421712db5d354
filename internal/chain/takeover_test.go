package chain

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// Two serve processes share one store on one host, so one wall clock.
// Process A claims a key and waits before sending (a rate-limit wait). The
// host's wall clock steps forward past the lease; the agent's retry
// reaches process B, which takes the spent lease for in doubt, reconciles
// (A has not sent: nothing), and sends. A must then not send too: its
// transport checks, just before the attempt leaves, that the claim is
// still its own (found in review: both sent, two effects for one key).
func TestACallWhoseKeyAnotherProcessTookOverDoesNotSend(t *testing.T) {
	t.Parallel()
	store := newMemStore()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	mk := func(owner string) *Idempotency {
		return &Idempotency{Store: store, Policy: idempotency.Policy{Lease: 2 * time.Minute},
			Owner: owner, Alive: func(string) bool { return true }, // both processes run
			Now: now, Audit: &memSink{}, Log: discard}
	}
	procA, procB := mk("host:boot:ns:100:1"), mk("host:boot:ns:200:2")

	var effects atomic.Int64
	inside, finish := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Run: func(ctx context.Context, c *Call) (any, error) {
			if first.CompareAndSwap(false, true) {
				close(inside)
				<-finish // A waits before its attempt leaves
			}
			// What the transport does just before an attempt is sent.
			if err := httpx.CheckAttempt(ctx, "POST"); err != nil {
				return nil, err
			}
			return map[string]any{"number": effects.Add(1)}, nil
		},
		// The provider has no issue with the marker yet: A has not sent.
		Reconcile: func(context.Context, *Call, time.Time) (any, bool, error) { return nil, false, nil },
	}
	args := map[string]any{"repo": "acme/app", "title": "t", "idempotencyKey": "deploy-1"}

	done := make(chan error, 1)
	go func() {
		_, err := procA.Middleware()(Final)(context.Background(), NewCall(tool, args, "t", "sandbox", "a"))
		done <- err
	}()
	<-inside
	offset.Store(int64(5 * time.Minute)) // the host's wall clock steps forward

	_, errB := procB.Middleware()(Final)(context.Background(), NewCall(tool, args, "t", "sandbox", "b"))
	require.NoError(t, errB, "B took the spent lease over and acted")
	close(finish)
	errA := <-done
	require.Error(t, errA, "A must not send once its key is another process's")
	assert.Contains(t, errA.Error(), "took this call's idempotency key over")
	assert.Contains(t, errA.Error(), "call again with the same idempotencyKey to get its result")
	assert.EqualValues(t, 1, effects.Load(), "one issue per key among processes sharing DATA_DIR")
}

// The check costs nothing on the usual path: right after the claim, with
// no clock step, the store is not asked.
func TestTheAttemptCheckDoesNotAskTheStoreRightAfterTheClaim(t *testing.T) {
	t.Parallel()
	store := &countingExtends{memStore: newMemStore()}
	m := &Idempotency{Store: store, Policy: idempotency.Policy{Lease: 2 * time.Minute},
		Owner: "host:boot:ns:1:1", Alive: func(string) bool { return true }, Now: time.Now, Audit: &memSink{}, Log: discard}
	tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Run: func(ctx context.Context, c *Call) (any, error) {
			return map[string]any{"number": 1}, httpx.CheckAttempt(ctx, "POST")
		},
		Reconcile: func(context.Context, *Call, time.Time) (any, bool, error) { return nil, false, nil },
	}
	_, err := m.Middleware()(Final)(context.Background(), NewCall(tool, map[string]any{"repo": "a/b", "title": "t"}, "t", "sandbox", "c"))
	require.NoError(t, err)
	assert.Zero(t, store.extends.Load())
}

type countingExtends struct {
	*memStore
	extends atomic.Int64
}

func (s *countingExtends) Extend(ctx context.Context, key, owner string, until time.Time) error {
	s.extends.Add(1)
	return s.memStore.Extend(ctx, key, owner, until)
}
