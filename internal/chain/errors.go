package chain

import (
	"errors"
	"fmt"
)

// Kind classifies a tool error. It decides the audit status and whether the
// model is told it may retry.
type Kind string

// Kinds of tool error.
const (
	KindInvalid    Kind = "invalid_arguments" // schema violations: rejected
	KindPolicy     Kind = "policy"            // sandbox/live and policy rules: rejected
	KindCredential Kind = "missing_credential"
	KindConflict   Kind = "idempotency_conflict" // key in progress or reused with other arguments
	KindProvider   Kind = "provider_error"       // the provider refused or failed
	KindInDoubt    Kind = "in_doubt"             // the effect may have happened; the message says whether a retry with the same key can check
	KindInternal   Kind = "internal"             // our store or audit log failed
	KindCancelled  Kind = "cancelled"            // the client cancelled (or timed out) the call before anything was sent: rejected
)

// ErrCannotReconcile marks a reason why an earlier effect of a call cannot
// be looked for in the present configuration (see Tool.CanReconcile): no
// retry can get past it, so its key stays blocked until it expires.
var ErrCannotReconcile = errors.New("an earlier effect cannot be looked for")

// CannotReconcile returns why, marked as ErrCannotReconcile; its text is
// why's alone, so the tool's own words reach the agent.
func CannotReconcile(why error) error { return &unreconcilable{why} }

type unreconcilable struct{ why error }

func (e *unreconcilable) Error() string   { return e.why.Error() }
func (e *unreconcilable) Unwrap() []error { return []error{e.why, ErrCannotReconcile} }

// Error is an error the model can act on. The MCP layer returns it as a tool
// result with isError: true and Message as text.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Rejected reports whether the call was refused before anything was sent.
func (e *Error) Rejected() bool {
	switch e.Kind {
	case KindInvalid, KindPolicy, KindCredential, KindConflict, KindCancelled:
		return true
	}
	return false
}

// Errorf builds an *Error of a kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps a fault of ours (store, audit log, encoding).
func Internal(what string, err error) *Error {
	return &Error{Kind: KindInternal, Message: fmt.Sprintf("%s: %v", what, err), Err: err}
}

// KindOf returns the kind of err, KindProvider for a plain error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindProvider
}
