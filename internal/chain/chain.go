// Package chain is the one middleware chain every tool call passes, in this
// order: audit, validate, guard, secrets, idempotency, then the tool's
// handler (which calls the provider through internal/httpx).
//
// The order is declared once, in New. A middleware is func(Handler) Handler,
// as in net/http.
package chain

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// Tool describes one MCP tool to the chain: what the audit log calls it,
// which credentials it needs, and how to run and reconcile it.
type Tool struct {
	Name     string // MCP tool name, e.g. "createTicket"
	Provider string // audit provider: slack, github, stripe, audit
	Action   string // audit action: post_message, create_issue, ...
	// Target names what the call acts on (channel, repo, event id).
	Target func(args map[string]any) string
	// Credentials lists the credential variables the tool can use; the call
	// needs at least one of them set (sendMessage takes a bot token or a
	// webhook URL). Empty for tools that need none.
	Credentials []string
	// ReadOnly tools change nothing outside saas-mcp (READ_ONLY lets them run).
	ReadOnly bool
	// Check, when set, refuses arguments the schema cannot (a repo whose
	// owner or name is "." or "..": Go's regexp has no lookahead). The
	// validate middleware runs it after the schema, so such a call is
	// refused like any invalid one, before a key is claimed or anything
	// sent; its error is the problem, without the tool's name.
	Check func(c *Call) error
	// Run performs the call. It returns the structured result (a struct or a
	// map that marshals to the tool's output schema).
	Run func(ctx context.Context, c *Call) (any, error)
	// Reconcile looks for the effect of an earlier attempt that may have
	// happened (the key was in doubt); since is the claim's time, as in
	// Call.ClaimedAt, where the search starts. found=false means it did not
	// happen and Run may send again. Nil when a repeat of Run is harmless.
	// An error wrapping ErrCannotReconcile says no retry can look (see
	// CanReconcile).
	Reconcile func(ctx context.Context, c *Call, since time.Time) (result any, found bool, err error)
	// CanReconcile, when set, says before anything is sent whether Reconcile
	// could look for this call's effect in the present configuration: nil if
	// it could, else why not (sendMessage with only an incoming webhook,
	// which cannot read channel history). A key in doubt whose effect cannot
	// be looked for is blocked until it expires, and the errors say so
	// rather than promise a check that will never come.
	CanReconcile func(c *Call) error
	// Via, when set, names the way this call would be sent in the present
	// configuration, for a tool with more than one (sendMessage: the Web API
	// or an incoming webhook). The claim records it, and a retry of a key
	// in doubt gets the first attempt's in Call.FirstVia, for CanReconcile.
	Via func(c *Call) string
	// Form says which spellings of the arguments are the same call, for
	// the args hash that derives a key and tells a retry from a key reused
	// with other arguments: a default spelled out, an empty optional value,
	// a set in another order (see idempotency.CallForm). tools.define
	// builds it from the input schema. Nil: only key order, whitespace,
	// number spelling and Unicode normalization do not matter.
	Form *idempotency.CallForm
	// Describe, when set, gives the audit details of a replayed call from
	// its stored result (the effect it names: an issue's number, whether a
	// payment was booked), so the log names the effect even when the first
	// call was killed between storing its result and writing its terminal
	// record (found in review, in chaos runs). via is how the first call
	// sent (Tool.Via's answer stored with the claim; "" when a release
	// that did not record it claimed the key).
	Describe func(result json.RawMessage, via string) map[string]any
}

// Call is one tool call as it moves down the chain. Middlewares fill it in.
type Call struct {
	Tool    *Tool
	Args    map[string]any
	Actor   string
	Env     string
	CallID  string
	Started time.Time

	// Key is the effective idempotency key as the caller knows it (its own,
	// or the one derived from the call), set by NewCall; every audit record
	// and result names it so. Explicit tells which: a caller that brings
	// back the key derived from this very call (a result showed it, an
	// in-doubt error named it) is not explicit, as its row is the derived one.
	Key      string
	Explicit bool
	// Credentials holds the tool's credentials that are set, by variable.
	Credentials map[string]config.Secret
	// FirstVia is Tool.Via as it was for the first attempt under the key
	// (the idempotency middleware sets it): this call's own on a new key,
	// the earlier one's on a retry of a key in doubt; "" when unknown.
	FirstVia string
	// ClaimedAt is when this life of the key was claimed (the idempotency
	// middleware sets it from the claimed row): this call's claim on a new
	// or expired key, the first attempt's on a retry of a key in doubt,
	// which keeps it. A key that expired and is claimed again gets a new
	// one, so a tool that writes it beside the key into the effect (the
	// GitHub marker, Slack's metadata) can tell an effect of this life from
	// one of an earlier life, which carries the same key. Reconcile gets it
	// as since. Zero when the call runs without that middleware.
	ClaimedAt time.Time

	argsHash  string // the hash the call is claimed under (idempotency.EnvArgsHash)
	plainHash string // the hash of the arguments alone
	owner     string // the idempotency claim's owner, set by the idempotency middleware
	attempts  atomic.Int64
	details   map[string]any
}

// NoteAttempt counts one provider attempt (the transport's observer calls it).
func (c *Call) NoteAttempt() { c.attempts.Add(1) }

// Attempts is the number of provider attempts so far.
func (c *Call) Attempts() int { return int(c.attempts.Load()) }

// SetDetail attaches a detail to the call's terminal audit record.
func (c *Call) SetDetail(k string, v any) {
	if c.details == nil {
		c.details = map[string]any{}
	}
	c.details[k] = v
}

// String returns a string argument, or "".
func (c *Call) String(name string) string {
	s, _ := c.Args[name].(string)
	return s
}

// Result is what a handler returns: the structured value as JSON, and
// whether it was replayed from the idempotency store.
type Result struct {
	Value    json.RawMessage
	Replayed bool
}

// Handler runs a call.
type Handler func(ctx context.Context, c *Call) (Result, error)

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Wrap applies middlewares so that the first one listed runs first.
func Wrap(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Final turns a Tool's Run into the innermost Handler.
func Final(ctx context.Context, c *Call) (Result, error) {
	v, err := c.Tool.Run(ctx, c)
	if err != nil {
		return Result{}, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Result{}, Internal("encode result", err)
	}
	return Result{Value: b}, nil
}

// NewCall prepares a call: its idempotency key is the explicit
// idempotencyKey argument when given, else one derived from the tool and its
// canonical arguments (Tool.Form), so every audit record of the call
// carries it. args are kept as given: the tool and the provider get exactly
// what the agent sent. Numbers in args should be json.Number, as
// mcpserver decodes them: a float64 has already lost what is past 2^53.
func NewCall(t *Tool, args map[string]any, actor, env, callID string) *Call {
	c := &Call{Tool: t, Args: args, Actor: actor, Env: env, CallID: callID}
	plain, err := t.Form.ArgsHash(t.Name, args)
	if err != nil {
		plain = "unhashable"
	}
	h := idempotency.EnvArgsHash(env, plain)
	c.argsHash, c.plainHash = h, plain
	if k, ok := args[idempotency.KeyField].(string); ok && k != "" {
		c.Key, c.Explicit = k, !idempotency.IsDerivedKey(k, t.Name, h)
	} else {
		c.Key = idempotency.DerivedKey(t.Name, h)
	}
	return c
}
