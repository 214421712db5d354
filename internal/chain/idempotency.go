package chain

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/provider"
)

// Idempotency claims the call's key durably before anything leaves the
// process, and commits the result after. See package idempotency for the
// states.
type Idempotency struct {
	Store  idempotency.Store
	Policy idempotency.Policy
	Owner  string                  // this process, see idempotency.OwnerID
	Alive  func(owner string) bool // whether another claim's owner still runs
	Now    func() time.Time
	Audit  audit.Sink
	Log    *slog.Logger
	// Failpoint, when set, is called at the named points of a call
	// ("before_send", "after_response", "after_commit"). The crash tests set
	// it (SAAS_MCP_FAILPOINT) to kill the process exactly there.
	Failpoint func(point string)
	// Heartbeat is how often a running call moves its claim's lease forward;
	// default a third of the lease. Without it a call slower than its lease
	// (rate-limit waits, a reconciliation that pages, then the send) would
	// look abandoned, and another call with the key would reconcile and send
	// while the first is still sending.
	Heartbeat time.Duration
	// Settle is how long to wait before a second look at the provider when
	// the first finds no earlier effect (RECONCILE_SETTLE); 0: one look.
	Settle time.Duration
}

func (m *Idempotency) hit(point string) {
	if m.Failpoint != nil {
		m.Failpoint(point)
	}
}

// Middleware returns the idempotency middleware.
func (m *Idempotency) Middleware() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, c *Call) (Result, error) {
			return m.run(ctx, c, next)
		}
	}
}

func (m *Idempotency) run(ctx context.Context, c *Call, next Handler) (Result, error) {
	now := m.Now()
	explicit := ""
	if c.Explicit {
		explicit = c.Key
	}
	// Each call owns its claim under its own id (process id plus a random
	// suffix): if a retry in this process ever took the key over, the first
	// call's late bookkeeping gets ErrNotOwner instead of overwriting it.
	c.owner = idempotency.CallOwner(m.Owner)
	want, err := m.Policy.NewClaim(c.Tool.Name, explicit, c.argsHash, targetOf(c), c.owner, now)
	if err != nil {
		return Result{}, &Error{Kind: KindInvalid, Message: "invalid arguments for " + c.Tool.Name + ": idempotencyKey: " + err.Error()}
	}
	row, outcome, err := m.Store.Claim(ctx, want, now, m.Alive)
	if err != nil {
		return Result{}, Internal("idempotency store cannot be written, so nothing was sent", err)
	}
	switch outcome {
	case idempotency.Replay:
		v, err := withReplayed(row.Result)
		if err != nil {
			return Result{}, Internal("read stored result", err)
		}
		return Result{Value: v, Replayed: true}, nil
	case idempotency.InProgress:
		return Result{}, Errorf(KindConflict, "idempotency key %q: the first call with this key is still in progress; retry later with the same key to get its result", c.Key)
	case idempotency.Mismatch:
		return Result{}, Errorf(KindConflict, "idempotency key %q was already used with different arguments; use a new key for a different call", c.Key)
	case idempotency.Reacquired, idempotency.Acquired:
	default:
		return Result{}, Internal("claim idempotency key", fmt.Errorf("unexpected outcome %v", outcome))
	}
	// The claim is ours from here until the provider has answered.
	release := m.hold(ctx, c, want.Key, want.LeaseUntil.Sub(now))
	defer release()
	if outcome == idempotency.Reacquired {
		res, done, err := m.reconcile(ctx, c, want.Key, row.ClaimedAt)
		if err != nil || done {
			return res, err
		}
	}
	return m.send(ctx, c, want.Key, next, release)
}

// hold keeps the claim on key alive while the call runs: every Heartbeat it
// moves the lease to lease from now. The returned func stops it (and may be
// called more than once); it returns once no Extend is running, so the
// bookkeeping that follows never races one.
func (m *Idempotency) hold(ctx context.Context, c *Call, key string, lease time.Duration) func() {
	every := m.Heartbeat
	if every <= 0 {
		every = lease / 3
	}
	if every <= 0 {
		return func() {}
	}
	wctx := context.WithoutCancel(ctx)
	// A timer, not a goroutine with a ticker: most calls end long before the
	// first beat, and then the heartbeat costs nothing but the timer. mu is
	// held while an Extend runs, so stopping waits for it.
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	beat := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := m.Store.Extend(wctx, key, c.owner, m.Now().Add(lease)); err != nil {
			m.Log.Warn("extend idempotency claim", "tool", c.Tool.Name, "err", err)
		}
		t.Reset(every)
	}
	mu.Lock()
	t = time.AfterFunc(every, beat)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// reconcile runs when an earlier attempt with this key may have taken effect.
// It asks the provider; done is true when the earlier effect was found (or the
// check failed) and no new attempt may be made.
func (m *Idempotency) reconcile(ctx context.Context, c *Call, key string, since time.Time) (Result, bool, error) {
	wctx := context.WithoutCancel(ctx)
	if c.Tool.Reconcile == nil {
		m.note(wctx, c, map[string]any{"reconcile": "not needed: repeating this call is harmless"})
		return Result{}, false, nil
	}
	v, found, err := c.Tool.Reconcile(ctx, c, since)
	reads := 1
	if err == nil && !found && m.Settle > 0 {
		// A provider may finish a request after we gave up on it, or show a
		// new effect only a moment later: look once more before sending.
		t := time.NewTimer(m.Settle)
		select {
		case <-t.C:
			v, found, err = c.Tool.Reconcile(ctx, c, since)
			reads++
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		}
	}
	if err != nil {
		if merr := m.Store.MarkInDoubt(wctx, key, c.owner); merr != nil {
			m.Log.Error("mark key in doubt", "tool", c.Tool.Name, "err", merr)
		}
		return Result{}, true, &Error{Kind: KindInDoubt, Err: err, Message: fmt.Sprintf(
			"an earlier call with idempotency key %q may have taken effect and checking %s failed, so nothing was sent: %v; retry with the same key",
			c.Key, c.Tool.Provider, err)}
	}
	m.note(wctx, c, map[string]any{"reconcile": "checked provider", "found": found, "reads": reads, "since": since.UTC().Format(time.RFC3339Nano)})
	if !found {
		return Result{}, false, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Result{}, true, Internal("encode reconciled result", err)
	}
	if err := m.Store.Commit(wctx, key, c.owner, b); err != nil {
		m.Log.Error("commit reconciled result", "tool", c.Tool.Name, "err", err)
	}
	out, err := withReplayed(b)
	if err != nil {
		return Result{}, true, Internal("encode reconciled result", err)
	}
	return Result{Value: out, Replayed: true}, true, nil
}

// note writes a "reconciled" audit record for the call.
func (m *Idempotency) note(ctx context.Context, c *Call, details map[string]any) {
	rec := baseRecord(c)
	rec.TS = m.Now()
	rec.Status = audit.StatusReconciled
	rec.Details = details
	if err := m.Audit.Write(ctx, rec); err != nil {
		m.Log.Error("audit reconciliation record not written", "tool", c.Tool.Name, "err", err)
	}
}

func (m *Idempotency) send(ctx context.Context, c *Call, key string, next Handler, release func()) (Result, error) {
	m.hit("before_send")
	res, err := next(ctx, c)
	release()
	m.hit("after_response")
	// Whatever happened, the bookkeeping must finish even if the client
	// cancelled the call.
	wctx := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		if cerr := m.Store.Commit(wctx, key, c.owner, res.Value); cerr != nil {
			// The effect happened. The key stays claimed and becomes in doubt,
			// so a retry reconciles instead of sending again.
			m.Log.Error("commit idempotency key", "tool", c.Tool.Name, "err", cerr)
		}
		m.hit("after_commit")
		return res, nil
	case provider.InDoubt(err) || ctx.Err() != nil:
		// A cancelled call may have been sent before it was cancelled.
		if merr := m.Store.MarkInDoubt(wctx, key, c.owner); merr != nil {
			m.Log.Error("mark key in doubt", "tool", c.Tool.Name, "err", merr)
		}
		return Result{}, &Error{Kind: KindInDoubt, Err: err, Message: fmt.Sprintf(
			"%v; the %s call may have taken effect: call again with the same idempotencyKey %q and saas-mcp will check %s before acting, so it never acts twice",
			err, c.Tool.Name, c.Key, c.Tool.Provider)}
	default:
		if rerr := m.Store.Release(wctx, key, c.owner); rerr != nil {
			m.Log.Error("release idempotency key", "tool", c.Tool.Name, "err", rerr)
		}
		return Result{}, err
	}
}

// withReplayed returns the stored result with "replayed": true.
func withReplayed(stored json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(stored, &m); err != nil {
		return nil, err
	}
	m["replayed"] = true
	return json.Marshal(m)
}
