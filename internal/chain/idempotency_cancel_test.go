package chain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// TestACallCancelledBeforeItsClaimIsRefusedAndClaimsNothing: a call whose
// context the client cancelled before it reached the idempotency middleware
// claims no key and sends nothing; it is refused with an error saying the
// client cancelled it (or that its time ran out), audited started then rejected, and the same call
// made again runs as a new one.
func TestACallCancelledBeforeItsClaimIsRefusedAndClaimsNothing(t *testing.T) {
	t.Parallel()
	cause := errors.New("the user pressed stop")
	for _, tc := range []struct {
		name      string
		cancel    func(context.Context) context.Context
		wantErr   string
		wantCause error
	}{
		{"cancelled", func(ctx context.Context) context.Context {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return ctx
		}, "the client cancelled the createTicket call before anything was sent", context.Canceled},
		{"cancelled with a cause", func(ctx context.Context) context.Context {
			ctx, cancel := context.WithCancelCause(ctx)
			cancel(cause)
			return ctx
		}, "the client cancelled the createTicket call before anything was sent", cause},
		{"whose deadline passed", func(ctx context.Context) context.Context {
			ctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
			t.Cleanup(cancel)
			return ctx
		}, "the createTicket call ran out of time before anything was sent (context deadline exceeded)", context.DeadlineExceeded},
	} {
		t.Run("a call "+tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
			c := NewCall(b.tool, ticket(), "tester", "sandbox", "call-1")
			_, err := b.handler(tc.cancel(context.Background()), c)
			require.Error(t, err)
			assert.Equal(t, tc.wantErr, err.Error())
			assert.ErrorIs(t, err, tc.wantCause)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.True(t, ce.Rejected(), "nothing was sent, so the call is rejected")
			assert.Zero(t, b.runs.Load(), "the tool did not run")
			b.store.mu.Lock()
			assert.Empty(t, b.store.rows, "no key was claimed")
			b.store.mu.Unlock()
			assert.Equal(t, []string{audit.StatusStarted, audit.StatusRejected}, b.sink.statuses())

			_, err = b.call(ticket())
			require.NoError(t, err, "the same call made again runs")
			assert.Equal(t, int64(1), b.runs.Load())
		})
	}
}

// ctxSink refuses a record on a cancelled context, as audit.Writer does.
type ctxSink struct{ memSink }

func (s *ctxSink) Write(ctx context.Context, r audit.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.memSink.Write(ctx, r)
}

// TestACallCancelledBeforeItStartsIsAuditedAndRefused: the client may have
// cancelled a call before the chain runs it (mcp-go's queue); the audit
// middleware must still write its started and terminal records, or the
// refusal would read "audit log cannot be written" and explain nothing.
func TestACallCancelledBeforeItStartsIsAuditedAndRefused(t *testing.T) {
	t.Parallel()
	sink := &ctxSink{}
	idem := &Idempotency{Store: newMemStore(), Owner: "me", Alive: func(string) bool { return true }, Now: time.Now, Audit: sink, Log: discard}
	ran := false
	tool := &Tool{Name: "sendMessage", Provider: "slack", Action: "post_message",
		Run: func(context.Context, *Call) (any, error) { ran = true; return map[string]any{}, nil }}
	h := Wrap(Final, Audit(sink, time.Now, discard), idem.Middleware())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h(ctx, NewCall(tool, map[string]any{"channel": "C1", "text": "x"}, "a", "sandbox", "c"))
	require.Error(t, err)
	assert.Equal(t, KindCancelled, KindOf(err))
	assert.False(t, ran, "nothing was sent")
	assert.Equal(t, []string{audit.StatusStarted, audit.StatusRejected}, sink.statuses())
}
