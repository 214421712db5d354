// Package idempotency keeps one effect per key. A call first claims its key
// durably, then calls the provider, then commits the result; a later call with
// the same key and arguments gets the stored result instead of a new effect.
//
// States: claimed (a call owns the key and may be sending), committed (the
// result is stored), in_doubt (the provider call may or may not have taken
// effect: timeout, connection closed after sending, 5xx to a POST, crash).
// A claim whose owner died or whose lease ran out is treated as in doubt.
package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// State of a key.
type State string

// The states a key moves through.
const (
	StateClaimed   State = "claimed"
	StateCommitted State = "committed"
	StateInDoubt   State = "in_doubt"
)

// MaxKeyLength is the longest explicit key accepted, as at Stripe.
const MaxKeyLength = 255

// Claim is one key's row.
type Claim struct {
	Key        string          `json:"key"`
	Tool       string          `json:"tool"`
	ArgsHash   string          `json:"argsHash"`
	Target     string          `json:"target"`
	Owner      string          `json:"owner"`
	State      State           `json:"state"`
	Result     json.RawMessage `json:"result,omitempty"`
	ClaimedAt  time.Time       `json:"claimedAt"`  // first claim: reconciliation searches from here
	LeaseUntil time.Time       `json:"leaseUntil"` // a claimed row past this is in doubt
	ExpiresAt  time.Time       `json:"expiresAt"`  // the key is forgotten after this, but never while its lease runs (see Expired)
	// Via is how the first attempt under the key was to be sent, for a
	// tool with more than one way (sendMessage: the Web API or an incoming
	// webhook); "" otherwise, and on rows claimed before it was recorded.
	// A retry keeps it: the retry must look for the effect the first
	// attempt may have had, whatever the configuration is now.
	Via string `json:"via,omitempty"`

	// ReplacedInDoubt is not stored: Store.Claim sets it, on an Acquired
	// outcome, to the row it replaced when that row had expired while in
	// doubt (InDoubtAt). Its call may have acted without a stored result,
	// and the new claim has just deleted its only trace, so the caller must
	// name it (an idempotency.in_doubt audit record) before it acts: the
	// prune, which names such a key before deleting it, never sees it now.
	ReplacedInDoubt *Claim `json:"-"`
}

// Outcome is what Claim found.
type Outcome int

const (
	// Acquired: the key was new (or expired); the caller owns it and may send.
	Acquired Outcome = iota + 1
	// Replay: the key is committed with the same arguments; Claim.Result holds the stored result.
	Replay
	// InProgress: another live call owns the key.
	InProgress
	// Mismatch: the key was used with other arguments.
	Mismatch
	// Reacquired: the key was in doubt (or its owner died); the caller now owns
	// it but must reconcile with the provider before sending again.
	Reacquired
)

func (o Outcome) String() string {
	switch o {
	case Acquired:
		return "acquired"
	case Replay:
		return "replay"
	case InProgress:
		return "in_progress"
	case Mismatch:
		return "mismatch"
	case Reacquired:
		return "reacquired"
	}
	return "unknown"
}

// ErrNotOwner is returned by Commit, MarkInDoubt and Release when the key is
// no longer owned by the caller (another process took it over).
var ErrNotOwner = errors.New("idempotency key is no longer owned by this call")

// Store is the durable key table. Every method is atomic, and safe for
// concurrent use by goroutines and by several processes sharing one database.
type Store interface {
	// Claim atomically takes the key or reports who has it. c carries Key,
	// Tool, ArgsHash, Target, Owner, LeaseUntil and ExpiresAt for a new row.
	// alive reports whether an owner recorded in a claimed row still runs.
	// It returns the row as it now stands, with ReplacedInDoubt set when an
	// Acquired claim took over an expired row that was in doubt.
	Claim(ctx context.Context, c Claim, now time.Time, alive func(owner string) bool) (Claim, Outcome, error)
	// Commit stores the result and marks the key committed.
	Commit(ctx context.Context, key, owner string, result json.RawMessage) error
	// MarkInDoubt records that the provider call may have taken effect.
	MarkInDoubt(ctx context.Context, key, owner string) error
	// Release deletes the claim: the provider call certainly had no effect,
	// so a retry may send again.
	Release(ctx context.Context, key, owner string) error
	// Restore takes back owner's claim that replaced old, an expired row in
	// doubt (Claim's ReplacedInDoubt), when nothing was sent under it: old
	// is written back in its place as it was, in doubt, since its call may
	// have acted and the row is the only trace of it (Release would delete
	// it). ErrNotOwner if owner no longer holds the key.
	Restore(ctx context.Context, owner string, old Claim) error
	// Extend moves a claimed key's lease forward (long calls heartbeat). As a
	// claimed key never expires before its lease ends, this also keeps the
	// key of a call that outlives its ExpiresAt.
	Extend(ctx context.Context, key, owner string, leaseUntil time.Time) error
	// InDoubt lists the keys in doubt (Claim.InDoubtAt): state in_doubt, or
	// claimed by an owner that is not alive or whose lease has run out.
	// Expired ones are listed too, until Prune deletes them: after a long
	// outage, the claim of a call that may have acted is the only trace of
	// it, and the start-up report must name it before the prune (an expired
	// key no longer blocks a new call: Claim.Expired).
	InDoubt(ctx context.Context, now time.Time, alive func(owner string) bool) ([]Claim, error)
	// Get returns a key's row.
	Get(ctx context.Context, key string) (Claim, bool, error)
	// Prune deletes rows expired at now (see Claim.Expired: never a claimed
	// or in-doubt row whose lease still runs) and returns how many.
	Prune(ctx context.Context, now time.Time) (int64, error)
}
