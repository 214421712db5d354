package idempotency

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier := now.Add(-time.Minute)
	want := Claim{
		Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Target: "C1", Owner: "new",
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour),
	}
	stored := func(state State, mod ...func(*Claim)) *Claim {
		c := Claim{
			Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Target: "C1", Owner: "old", State: state,
			ClaimedAt: earlier, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour),
		}
		if state == StateCommitted {
			c.Result = json.RawMessage(`{"ts":"1"}`)
		}
		for _, m := range mod {
			m(&c)
		}
		return &c
	}
	liveOwners := func(string) bool { return true }
	deadOwners := func(string) bool { return false }
	acquired := want
	acquired.State, acquired.ClaimedAt = StateClaimed, now
	// An expired row in doubt comes back with the acquired row: its call
	// may have acted, and the caller must name it before it is gone.
	acquiredReplacing := func(c *Claim) Claim {
		r := acquired
		r.ReplacedInDoubt = c
		return r
	}
	reacquired := func(c *Claim) Claim {
		r := *c
		r.State, r.Owner, r.LeaseUntil = StateClaimed, "new", want.LeaseUntil
		return r
	}

	tests := []struct {
		name    string
		current *Claim
		alive   func(string) bool
		wantRow Claim
		wantOut Outcome
	}{
		{"a new key is acquired", nil, liveOwners, acquired, Acquired},
		{"an expired committed key is acquired afresh", stored(StateCommitted, func(c *Claim) { c.ExpiresAt = now }), liveOwners, acquired, Acquired},
		{"an expired claim whose lease has ended, with other arguments, is acquired afresh, replacing a row in doubt", stored(StateClaimed, func(c *Claim) { c.ExpiresAt, c.LeaseUntil, c.ArgsHash = earlier, earlier, "x" }), liveOwners, acquiredReplacing(stored(StateClaimed, func(c *Claim) { c.ExpiresAt, c.LeaseUntil, c.ArgsHash = earlier, earlier, "x" })), Acquired},
		{"an expired key in doubt whose lease has ended is acquired afresh, replacing a row in doubt", stored(StateInDoubt, func(c *Claim) { c.ExpiresAt, c.LeaseUntil = earlier, now }), liveOwners, acquiredReplacing(stored(StateInDoubt, func(c *Claim) { c.ExpiresAt, c.LeaseUntil = earlier, now })), Acquired},
		{"an expired claim of a dead owner is acquired afresh, replacing a row in doubt", stored(StateClaimed, func(c *Claim) { c.ExpiresAt, c.LeaseUntil = earlier, earlier }), deadOwners, acquiredReplacing(stored(StateClaimed, func(c *Claim) { c.ExpiresAt, c.LeaseUntil = earlier, earlier })), Acquired},
		// ReplacedInDoubt belongs to one claim's answer: a row that carries
		// one (a store that kept the answer) never passes it on.
		{"a replaced row named once is not named again by a later claim", stored(StateInDoubt, func(c *Claim) { c.ReplacedInDoubt = stored(StateInDoubt) }), liveOwners, reacquired(stored(StateInDoubt)), Reacquired},
		{"a replaced row is not passed on when the row it came with is replaced", stored(StateCommitted, func(c *Claim) { c.ExpiresAt, c.ReplacedInDoubt = now, stored(StateInDoubt) }), liveOwners, acquired, Acquired},
		{"an expired committed key is acquired afresh even before its last lease would end", stored(StateCommitted, func(c *Claim) { c.ExpiresAt = earlier }), liveOwners, acquired, Acquired},
		// Past ExpiresAt but inside the lease, the first call may still be
		// sending (a derived key's window can be shorter than a lease, and
		// the heartbeat moves only the lease): it must not count as absent.
		{"a live claim past its expiry is in progress", stored(StateClaimed, func(c *Claim) { c.ExpiresAt = earlier }), liveOwners, *stored(StateClaimed, func(c *Claim) { c.ExpiresAt = earlier }), InProgress},
		{"a claim at exactly its expiry is in progress while its lease runs", stored(StateClaimed, func(c *Claim) { c.ExpiresAt = now }), nil, *stored(StateClaimed, func(c *Claim) { c.ExpiresAt = now }), InProgress},
		{"a live claim past its expiry with other arguments is a mismatch", stored(StateClaimed, func(c *Claim) { c.ExpiresAt, c.ArgsHash = earlier, "x" }), liveOwners, *stored(StateClaimed, func(c *Claim) { c.ExpiresAt, c.ArgsHash = earlier, "x" }), Mismatch},
		{"a claim past its expiry whose owner died is reacquired, to be reconciled", stored(StateClaimed, func(c *Claim) { c.ExpiresAt = earlier }), deadOwners, reacquired(stored(StateClaimed, func(c *Claim) { c.ExpiresAt = earlier })), Reacquired},
		{"a key in doubt past its expiry but inside its lease is reacquired, to be reconciled", stored(StateInDoubt, func(c *Claim) { c.ExpiresAt = earlier }), liveOwners, reacquired(stored(StateInDoubt, func(c *Claim) { c.ExpiresAt = earlier })), Reacquired},
		{"a committed key replays its result", stored(StateCommitted), liveOwners, *stored(StateCommitted), Replay},
		{"a committed key with other arguments is a mismatch", stored(StateCommitted, func(c *Claim) { c.ArgsHash = "x" }), liveOwners, *stored(StateCommitted, func(c *Claim) { c.ArgsHash = "x" }), Mismatch},
		{"a live claim with other arguments is a mismatch", stored(StateClaimed, func(c *Claim) { c.ArgsHash = "x" }), liveOwners, *stored(StateClaimed, func(c *Claim) { c.ArgsHash = "x" }), Mismatch},
		{"a live claim is in progress", stored(StateClaimed), liveOwners, *stored(StateClaimed), InProgress},
		{"a claim is in progress when no liveness check is given", stored(StateClaimed), nil, *stored(StateClaimed), InProgress},
		{"a claim whose owner died is reacquired", stored(StateClaimed), deadOwners, reacquired(stored(StateClaimed)), Reacquired},
		{"a claim past its lease is reacquired", stored(StateClaimed, func(c *Claim) { c.LeaseUntil = now }), liveOwners, reacquired(stored(StateClaimed, func(c *Claim) { c.LeaseUntil = now })), Reacquired},
		{"a key in doubt is reacquired", stored(StateInDoubt), liveOwners, reacquired(stored(StateInDoubt)), Reacquired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			row, out := Resolve(tt.current, want, now, tt.alive)
			assert.Equal(t, tt.wantOut, out, "outcome %s", out)
			assert.Equal(t, tt.wantRow, row)
		})
	}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	for o, s := range map[Outcome]string{Acquired: "acquired", Replay: "replay", InProgress: "in_progress", Mismatch: "mismatch", Reacquired: "reacquired", 0: "unknown"} {
		assert.Equal(t, s, o.String())
	}
}
