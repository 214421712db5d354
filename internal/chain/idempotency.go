package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/redact"
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

	// Redactor knows the configured secrets: a new key holding one (or a
	// credential of a provider's shape) is refused. Nil: shapes only.
	Redactor *redact.Redactor

	runningMu sync.Mutex
	running   map[string]string // the stored keys this process's calls hold: their arguments' hashes
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
	// A call the client cancelled before it got here is refused before
	// anything is claimed or sent. Claim alone would not say so: it waits
	// for the store's write connection in a select on ctx and a free
	// semaphore, which picks either, so the call could be claimed and sent
	// anyway, or refused as if the store could not be written.
	if ctx.Err() != nil {
		return Result{}, cancelledBeforeSend(ctx, c)
	}
	// Whole microseconds, the finest time every store keeps, so the claim
	// time this process writes into the effect's marker (as whole seconds)
	// is the one any process reads back from the store, however a driver
	// would round the nanoseconds.
	now := m.Now().Truncate(time.Microsecond)
	explicit := ""
	if c.Explicit {
		explicit = c.Key
	}
	// Each call owns its claim under its own id (process id plus a random
	// suffix): if a retry in this process ever took the key over, the first
	// call's late bookkeeping gets ErrNotOwner instead of overwriting it.
	c.owner = idempotency.CallOwner(m.Owner)
	want, err := m.Policy.NewClaim(c.Tool.Name, explicit, c.argsHash, targetOf(c), c.owner, now)
	if errors.Is(err, idempotency.ErrDerivedKeyMismatch) {
		return Result{}, &Error{Kind: KindConflict, Err: err, Message: fmt.Sprintf(
			"idempotency key %q is not this call's: keys starting with \"auto:\" are the ones saas-mcp derives from a tool and its exact arguments, "+
				"and this %s call derives another, so nothing was sent. To retry the call that key names, repeat its arguments unchanged; "+
				"for a new call, leave idempotencyKey out or choose a new key that does not start with \"auto:\"",
			c.Key, c.Tool.Name)}
	}
	if err != nil {
		return Result{}, &Error{Kind: KindInvalid, Message: "invalid arguments for " + c.Tool.Name + ": idempotencyKey: " + err.Error()}
	}
	if c.Explicit && m.Redactor.HoldsSecret(c.Key) {
		if err := m.refuseSecretKey(ctx, c, want.Key, now); err != nil {
			return Result{}, err
		}
	}
	if c.Tool.Via != nil {
		want.Via = c.Tool.Via(c)
	}
	// A call of this process that holds the key is running, whatever its
	// lease says: the lease is wall-clock time renewed on a monotonic timer,
	// so a wall clock that steps forward (NTP, a laptop or VM resuming) can
	// make it look spent while the call still waits on the provider, and the
	// store would hand the key to this retry, which would act a second time.
	if held, ok := m.enter(want.Key, want.ArgsHash); !ok {
		if held != want.ArgsHash {
			// Not "retry later": the retry would then be refused for its
			// arguments (found in review).
			return Result{}, Errorf(KindConflict, "idempotency key %q was already used with different arguments, by a call still in progress in this server; use a new key for a different call",
				c.Key)
		}
		return Result{}, Errorf(KindConflict, "idempotency key %q: the first call with this key is still in progress in this server; retry later with the same key to get its result",
			c.Key)
	}
	defer m.leave(want.Key)
	row, outcome, err := m.Store.Claim(ctx, want, now, m.Alive)
	if err != nil {
		// A claim obeys ctx only while it waits for the store (another
		// process's commit, say), before it writes anything: a cancel then
		// is the client's, not a fault of the store (found in review: such
		// a call was audited "failed", blaming a healthy store).
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return Result{}, cancelledBeforeSend(ctx, c)
		}
		return Result{}, Internal("idempotency store cannot be written, so nothing was sent", err)
	}
	switch outcome {
	case idempotency.Replay:
		v, err := withReplayed(row.Result)
		if err != nil {
			return Result{}, Internal("read stored result", err)
		}
		if c.Tool.Describe != nil {
			for k, d := range c.Tool.Describe(row.Result, row.Via) {
				c.SetDetail(k, d)
			}
		}
		return Result{Value: v, Replayed: true}, nil
	case idempotency.InProgress:
		return Result{}, Errorf(KindConflict, "idempotency key %q: the first call with this key is still in progress; retry later with the same key to get its result (the key expires at %s at the earliest)",
			c.Key, m.when(c, row.ForgottenAt()))
	case idempotency.Mismatch:
		if other := otherEnv(c.Env); row.ArgsHash == idempotency.EnvArgsHash(other, c.plainHash) {
			by := "by a sandbox server sharing this DATA_DIR"
			if other == config.Live {
				// Sandbox calls hashed as live ones do before sandbox got
				// its own name space: the row may be this call's own.
				by = "under live's name space, by a live server sharing this DATA_DIR or by a sandbox call before an upgrade of saas-mcp gave sandbox keys their own"
			}
			return Result{}, Errorf(KindConflict, "idempotency key %q was already used %s, so nothing was sent: "+
				"sandbox and live never share a key; use a new key (that one expires at %s)",
				c.Key, by, m.when(c, row.ForgottenAt()))
		}
		return Result{}, Errorf(KindConflict, "idempotency key %q was already used with different arguments; use a new key for a different call (this one expires at %s)",
			c.Key, m.when(c, row.ForgottenAt()))
	case idempotency.Reacquired, idempotency.Acquired:
		c.FirstVia, c.ClaimedAt = row.Via, row.ClaimedAt
	default:
		return Result{}, Internal("claim idempotency key", fmt.Errorf("unexpected outcome %v", outcome))
	}
	if outcome == idempotency.Acquired && row.ReplacedInDoubt != nil {
		if err := m.nameReplaced(ctx, c, *row.ReplacedInDoubt, now); err != nil {
			return Result{}, err
		}
	}
	// The claim is ours from here until the provider has answered.
	lease := want.LeaseUntil.Sub(now)
	release := m.hold(ctx, c, want.Key, lease)
	defer release()
	ctx = httpx.WithAttemptCheck(ctx, m.stillOurs(c, want.Key, lease, now, time.Now()))
	expires := want.ExpiresAt
	if outcome == idempotency.Reacquired {
		expires = row.ExpiresAt
		res, done, err := m.reconcile(ctx, c, want.Key, row.ClaimedAt, expires, release)
		if err != nil || done {
			return res, err
		}
	}
	return m.send(ctx, c, want.Key, expires, outcome == idempotency.Reacquired, next, release)
}

// refuseSecretKey refuses a new key that holds a secret (see
// redact.HoldsSecret): a key comes back in the tool's result (which is not
// redacted: the agent must be able to send its key again) and goes to the
// provider (an issue's marker, a message's metadata), so a pasted token
// came back raw while the audit log masked it (found in review). A key the
// store holds and has not expired is let through: it is a retry of a call
// that was accepted (before an upgrade, say), which must replay or
// reconcile, never be told to use another key. An expired row is no such
// retry: the call would act anew (found in review).
func (m *Idempotency) refuseSecretKey(ctx context.Context, c *Call, stored string, now time.Time) error {
	row, found, err := m.Store.Get(ctx, stored)
	switch {
	case err != nil:
		return Internal("idempotency store cannot be read, so nothing was sent", err)
	case found && !row.Expired(now):
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "invalid arguments for " + c.Tool.Name +
		": idempotencyKey: holds a credential or a configured secret (a key is echoed in the result and sent to the provider); " +
		"nothing was sent: choose another key"}
}

// cancelledBeforeSend is the error of a call whose ctx ended before
// anything was claimed or sent.
func cancelledBeforeSend(ctx context.Context, c *Call) *Error {
	msg := "the client cancelled the " + c.Tool.Name + " call before anything was sent"
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg = "the " + c.Tool.Name + " call ran out of time before anything was sent (context deadline exceeded)"
	case errors.Is(context.Cause(ctx), ErrStopping):
		// Not the client's doing (found in review: the audit log blamed
		// it for a SIGTERM).
		msg = "saas-mcp is stopping (SIGTERM or SIGINT), so the " + c.Tool.Name + " call was refused before anything was sent"
	}
	return &Error{Kind: KindCancelled, Err: context.Cause(ctx), Message: msg}
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

// stillOurs returns the check each attempt to send runs just before it
// leaves (httpx.WithAttemptCheck). A claim's lease is wall-clock time: a
// wait longer than a heartbeat's period, or the wall clock stepping
// forward, can make it look spent to another process sharing the store,
// which then takes the key over, finds nothing and sends; this call must
// then not send too (found in review). Only then is the store asked: the
// claim is extended, and a key no longer this call's stops it unsent. A
// store that cannot be written stops it too (fail closed). claimWall is
// the claim's time on m.Now's clock, claimMono the same moment on the
// monotonic clock.
func (m *Idempotency) stillOurs(c *Call, key string, lease time.Duration, claimWall, claimMono time.Time) func(context.Context) error {
	return func(ctx context.Context) error {
		mono := time.Since(claimMono)
		if mono < lease/3 && m.Now().Sub(claimWall)-mono < time.Second {
			return nil // too soon for any lease to look spent: no store round trip
		}
		err := m.Store.Extend(context.WithoutCancel(ctx), key, c.owner, m.Now().Add(lease))
		if errors.Is(err, idempotency.ErrNotOwner) {
			return errTakenOver
		}
		if err != nil {
			return fmt.Errorf("confirm the idempotency claim before sending: %w", err)
		}
		return nil
	}
}

// ErrStopping is the cause of a call's context ending when the server stops
// (serve's SIGTERM or SIGINT), as against the client cancelling it.
var ErrStopping = errors.New("saas-mcp is stopping")

// errTakenOver stops an attempt whose key another process took over.
var errTakenOver = errors.New("another process took this call's idempotency key over while it waited " +
	"(its lease looked spent, after a long wait or a clock step), so this call did not send; that process's call acts for the key: " +
	"call again with the same idempotencyKey to get its result")

// reconcile runs when an earlier attempt with this key may have taken effect.
// It asks the provider; done is true when the earlier effect was found (or the
// check failed, or cannot be made) and no new attempt may be made. expires is
// when the key's row expires; release stops the claim's heartbeat.
func (m *Idempotency) reconcile(ctx context.Context, c *Call, key string, since, expires time.Time, release func()) (Result, bool, error) {
	wctx := context.WithoutCancel(ctx)
	if c.Tool.Reconcile == nil {
		m.note(wctx, c, map[string]any{"reconcile": "not needed: repeating this call is harmless"})
		return Result{}, false, nil
	}
	if why := cannotReconcile(c); why != nil {
		return Result{}, true, m.stillBlocked(wctx, c, key, expires, why, release)
	}
	v, found, err := m.reconcileGuarded(ctx, c, since)
	reads := 1
	if err == nil && !found && m.Settle > 0 {
		// A provider may finish a request after we gave up on it, or show a
		// new effect only a moment later: look once more before sending.
		t := time.NewTimer(m.Settle)
		select {
		case <-t.C:
			v, found, err = m.reconcileGuarded(ctx, c, since)
			reads++
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		}
	}
	if errors.Is(err, ErrCannotReconcile) {
		return Result{}, true, m.stillBlocked(wctx, c, key, expires, err, release)
	}
	if err != nil {
		if merr := m.Store.MarkInDoubt(wctx, key, c.owner); merr != nil {
			m.Log.Error("mark key in doubt", "tool", c.Tool.Name, "err", merr)
		}
		return Result{}, true, &Error{Kind: KindInDoubt, Err: err, Message: fmt.Sprintf(
			"an earlier call with idempotency key %q may have taken effect and checking %s failed, so nothing was sent: %v; retry with the same key before it expires at %s",
			c.Key, c.Tool.Provider, err, m.when(c, m.keptUntil(wctx, key, expires)))}
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

// send calls the provider under the claim on key, and records what came of
// it: the result, the key in doubt, or the key released.
func (m *Idempotency) send(ctx context.Context, c *Call, key string, expires time.Time, reacquired bool, next Handler, release func()) (Result, error) {
	m.hit("before_send")
	res, panicked, err := m.runGuarded(ctx, c, next)
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
	case panicked || provider.InDoubt(err) || KindOf(err) == KindInDoubt || (ctx.Err() != nil && !provider.NoEffect(err)):
		// A cancelled call may have been sent before it was cancelled,
		// unless the provider's classified error says it was not (found
		// in review: a call cancelled while it waited for Slack's pace
		// was left in doubt, its key refused for 24 hours when it could
		// not be checked). This holds because a tool returns the error of
		// the step that failed, and no tool calls a provider after its
		// effect succeeded. A call that panicked (a bug) may have panicked
		// after sending.
		if merr := m.Store.MarkInDoubt(wctx, key, c.owner); merr != nil {
			m.Log.Error("mark key in doubt", "tool", c.Tool.Name, "err", merr)
		}
		until := m.when(c, m.keptUntil(wctx, key, expires))
		if c.Tool.Reconcile == nil {
			// Nothing to look for: a repeat of this tool is harmless
			// (recordPaymentEvent's ledger records an event once).
			return Result{}, &Error{Kind: KindInDoubt, Err: err, Message: fmt.Sprintf(
				"%v; the %s call may not have finished: call again with the same idempotencyKey %q before it expires at %s; repeating this call is harmless",
				err, c.Tool.Name, c.Key, until)}
		}
		if why := cannotReconcile(c); why != nil {
			return Result{}, &Error{Kind: KindInDoubt, Err: err, Message: fmt.Sprintf(
				"%v; the %s call may have taken effect, and saas-mcp cannot check %s for it: %v. %s",
				err, c.Tool.Name, c.Tool.Provider, why, blockedUntil(fmt.Sprintf("every call with idempotencyKey %q", c.Key), until))}
		}
		return Result{}, &Error{Kind: KindInDoubt, Err: err, Message: fmt.Sprintf(
			"%v; the %s call may have taken effect: call again with the same idempotencyKey %q before it expires at %s and saas-mcp will check %s before acting, so it never acts twice",
			err, c.Tool.Name, c.Key, until, c.Tool.Provider)}
	case reacquired && c.Tool.Reconcile != nil:
		// This attempt certainly did not act, but the earlier one whose
		// key it took over may have, and its row (its claim time, which
		// its effect's marker names) is the only trace of it: releasing
		// the key would let the next attempt send without looking (found
		// in review: the retry's reconciliation can run before the
		// provider lists the earlier effect). The key stays in doubt.
		if merr := m.Store.MarkInDoubt(wctx, key, c.owner); merr != nil {
			m.Log.Error("mark key in doubt", "tool", c.Tool.Name, "err", merr)
		}
		until := m.when(c, m.keptUntil(wctx, key, expires))
		return Result{}, &Error{Kind: KindOf(err), Err: err, Message: fmt.Sprintf(
			"%v; this call sent nothing, but an earlier attempt with idempotencyKey %q may have taken effect, so the next call with it "+
				"(before it expires at %s) checks %s again before acting; a different call needs a new key",
			err, c.Key, until, c.Tool.Provider)}
	default:
		if rerr := m.Store.Release(wctx, key, c.owner); errors.Is(rerr, idempotency.ErrNotOwner) {
			// Expected after a takeover (errTakenOver): the key is the
			// other process's, and its row is left alone.
			m.Log.Info("idempotency key no longer this call's; left to its owner", "tool", c.Tool.Name)
		} else if rerr != nil {
			m.Log.Error("release idempotency key", "tool", c.Tool.Name, "err", rerr)
		}
		if ctx.Err() != nil {
			// Cancelled before anything left (NoEffect above): said as
			// such, as for a call cancelled before its claim.
			e := cancelledBeforeSend(ctx, c)
			e.Err = err
			return Result{}, e
		}
		return Result{}, err
	}
}

// runGuarded runs next, turning a panic (a bug) into an error, logged with
// its stack, so that the claim is marked in doubt at once rather than left
// claimed by a live owner, answering "in progress" until its lease runs out.
func (m *Idempotency) runGuarded(ctx context.Context, c *Call, next Handler) (res Result, panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			m.Log.Error("tool call panicked", "tool", c.Tool.Name, "callId", c.CallID, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			res, panicked, err = Result{}, true, fmt.Errorf("internal error in saas-mcp (a bug): panic: %v", p)
		}
	}()
	res, err = next(ctx, c)
	return res, false, err
}

// reconcileGuarded runs the tool's Reconcile, turning a panic (a bug) into
// a failed check: the key is then marked in doubt and the call refused, as
// for any check that fails, rather than left claimed "in progress".
func (m *Idempotency) reconcileGuarded(ctx context.Context, c *Call, since time.Time) (v any, found bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			m.Log.Error("reconciliation panicked", "tool", c.Tool.Name, "callId", c.CallID, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			v, found, err = nil, false, fmt.Errorf("internal error in saas-mcp (a bug): panic: %v", p)
		}
	}()
	return c.Tool.Reconcile(ctx, c, since)
}

// cannotReconcile says why the effect of c could not be looked for in the
// present configuration, or nil when it could, or when no look is needed (a
// repeat of the tool is harmless).
func cannotReconcile(c *Call) error {
	if c.Tool.Reconcile == nil || c.Tool.CanReconcile == nil {
		return nil
	}
	return c.Tool.CanReconcile(c)
}

// stillBlocked refuses a call whose key is in doubt when the earlier effect
// cannot be looked for (why): sending again could act twice, and no retry
// with the key can ever check, so the key stays in doubt until it expires
// and the error says so, and how to act anyway, instead of sending the agent
// round a retry loop that cannot end.
//
// This call did nothing under its claim, so it gives the lease back before
// the key goes back in doubt: a claim's lease keeps its row past its expiry
// (Claim.Expired), and every refused retry would otherwise push the time
// the agent was told further out. (Both stores' Extend write the lease as
// given; were one to move it only forward, the time told would still be
// right, as it is read from the row, only later.)
func (m *Idempotency) stillBlocked(ctx context.Context, c *Call, key string, expires time.Time, why error, release func()) *Error {
	release()
	if err := m.Store.Extend(ctx, key, c.owner, m.Now()); err != nil {
		m.Log.Warn("give back idempotency claim's lease", "tool", c.Tool.Name, "err", err)
	}
	if err := m.Store.MarkInDoubt(ctx, key, c.owner); err != nil {
		m.Log.Error("mark key in doubt", "tool", c.Tool.Name, "err", err)
	}
	return &Error{Kind: KindInDoubt, Err: why, Message: fmt.Sprintf(
		"an earlier %s call with idempotencyKey %q may have taken effect, and saas-mcp cannot check %s for it: %v. Nothing was sent. %s",
		c.Tool.Name, c.Key, c.Tool.Provider, why, blockedUntil("every call with this key", m.when(c, m.keptUntil(ctx, key, expires))))}
}

// blockedUntil tells the agent what a key in doubt that cannot be checked
// means for it: when the key frees, and how to act before then. calls names
// the calls refused ("every call with this key").
func blockedUntil(calls, until string) string {
	return fmt.Sprintf("So that it never acts twice, %s is refused until the key expires at %s. "+
		"To act anyway, at the risk of acting twice, call again with a new idempotencyKey", calls, until)
}

// keptUntil returns when the row of key is forgotten (Claim.ForgottenAt);
// if the row cannot be read, expires stands in.
func (m *Idempotency) keptUntil(ctx context.Context, key string, expires time.Time) time.Time {
	row, ok, err := m.Store.Get(ctx, key)
	if err != nil || !ok {
		return expires
	}
	return row.ForgottenAt()
}

// when says when a key is forgotten, for the agent: the time (rounded up to
// the second, so it is never early), how long from now, and the setting
// that decides it.
func (m *Idempotency) when(c *Call, at time.Time) string {
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	setting := "IDEMPOTENCY_WINDOW"
	if c.Explicit {
		setting = "IDEMPOTENCY_KEY_TTL"
	}
	return fmt.Sprintf("%s (in %s; see %s)", at.UTC().Format(time.RFC3339), max(at.Sub(m.Now()), 0).Round(time.Second), setting)
}

// withReplayed returns the stored result with "replayed": true, its other
// members as stored and in the stored order (the tool's), so a replay reads
// as the first answer did: decoding into a map sorted them (found in a
// new-user walkthrough), and re-encoding a number can change it (an
// integer past 2^53 through a float64, found in review). A member named
// twice keeps its first place and its last value, as decoding did; a
// result without "replayed" gets it last.
func withReplayed(stored json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(stored))
	if t, err := dec.Token(); err != nil {
		return nil, err
	} else if t != json.Delim('{') {
		return nil, fmt.Errorf("stored result is not a JSON object")
	}
	type member struct {
		key   string
		value json.RawMessage
	}
	var members []member
	at := map[string]int{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string) // an object's next token is its key
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if i, ok := at[key]; ok {
			members[i].value = v
			continue
		}
		at[key] = len(members)
		members = append(members, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	replayed := json.RawMessage("true")
	if i, ok := at["replayed"]; ok {
		members[i].value = replayed
	} else {
		members = append(members, member{"replayed", replayed})
	}
	out := make([]byte, 0, len(stored)+8)
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}

// otherEnv is the integration environment a call in env must never share a
// key with.
func otherEnv(env string) string {
	if env == config.Live {
		return config.Sandbox
	}
	return config.Live
}
