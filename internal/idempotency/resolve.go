package idempotency

import "time"

// Expired reports whether the row is forgotten at now: an expired row is as
// good as absent, so Claim takes it anew, InDoubt no longer lists it and
// Prune deletes it.
//
// A committed row expires at ExpiresAt. A claimed or in-doubt row expires at
// the later of ExpiresAt and LeaseUntil: its call may still be sending, or
// may have acted without a stored result, and forgetting it then would let a
// second call act while the first runs, or without reconciling. ExpiresAt is
// counted from the claim (IDEMPOTENCY_WINDOW can be shorter than a lease),
// and a heartbeat moves only the lease, so the lease is what keeps a running
// call's key. Deciding it here, rather than writing ExpiresAt >= LeaseUntil
// on every claim and Extend, keeps a committed result's life exactly the
// window or TTL the caller set, and protects rows written by any version.
// The stores' SQL (Prune, InDoubt, PostgreSQL's one-statement acquire)
// applies this same rule.
func (c Claim) Expired(now time.Time) bool {
	return !now.Before(c.ForgottenAt())
}

// ForgottenAt is when the row expires as it stands (see Expired): ExpiresAt
// for a committed row, the later of ExpiresAt and LeaseUntil for a claimed
// or in-doubt one (a heartbeat may still move the lease).
func (c Claim) ForgottenAt() time.Time {
	if c.State != StateCommitted && c.LeaseUntil.After(c.ExpiresAt) {
		return c.LeaseUntil
	}
	return c.ExpiresAt
}

// InDoubtAt reports whether the row needs reconciling at now: it is marked in
// doubt, or it is claimed by an owner that is gone or whose lease ran out.
// A nil alive counts every owner as alive, leaving the lease to decide.
func (c Claim) InDoubtAt(now time.Time, alive func(owner string) bool) bool {
	switch c.State {
	case StateInDoubt:
		return true
	case StateClaimed:
		return !now.Before(c.LeaseUntil) || (alive != nil && !alive(c.Owner))
	}
	return false
}

// Resolve is the decision at the heart of every Store's Claim, kept here so
// that each database applies the same rules. current is the row stored under
// want.Key, or nil when there is none; want is the claim the caller asks for.
// It returns the row as it must stand afterwards and the outcome. The store
// writes the row when the outcome is Acquired or Reacquired and leaves the
// database untouched otherwise.
//
// The rules, in order: an absent or expired row is Acquired afresh (a row
// whose lease still runs is never expired, see Claim.Expired, so a running
// call's key is never taken from under it); other arguments under the same
// key are a Mismatch (whatever the state, so a key reused by mistake never
// replays someone else's result); a committed row is a Replay; a row in
// doubt, or claimed by a dead owner or past its lease, is Reacquired by
// want.Owner, keeping its ClaimedAt (where reconciliation starts searching)
// and ExpiresAt; a live claim is InProgress.
//
// An expired row that was in doubt (InDoubtAt, with alive) comes back in
// the acquired row's ReplacedInDoubt, for the caller to name: replacing it
// deletes the only trace of a call that may have acted. (An expired row
// that is not committed has always run out its lease, so it is always in
// doubt; a store may rely on that to keep its fast path one statement.)
func Resolve(current *Claim, want Claim, now time.Time, alive func(owner string) bool) (Claim, Outcome) {
	if current == nil || current.Expired(now) {
		row := want
		row.State = StateClaimed
		row.Result = nil
		row.ClaimedAt = now
		row.ReplacedInDoubt = nil
		if current != nil && current.InDoubtAt(now, alive) {
			replaced := *current
			replaced.ReplacedInDoubt = nil
			row.ReplacedInDoubt = &replaced
		}
		return row, Acquired
	}
	row := *current
	row.ReplacedInDoubt = nil // a field of a claim, never of a stored row
	switch {
	case row.ArgsHash != want.ArgsHash:
		return row, Mismatch
	case row.State == StateCommitted:
		return row, Replay
	case row.InDoubtAt(now, alive):
		row.State = StateClaimed
		row.Owner = want.Owner
		row.LeaseUntil = want.LeaseUntil
		return row, Reacquired
	}
	return row, InProgress
}
