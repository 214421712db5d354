package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// claimFor is the claim an owner makes for key with the given args hash at
// base: a one-minute lease, expiring after an hour.
func claimFor(key, hash, owner string) idempotency.Claim {
	return idempotency.Claim{
		Key: key, Tool: "sendMessage", ArgsHash: hash, Target: "C123", Owner: owner,
		LeaseUntil: base.Add(time.Minute), ExpiresAt: base.Add(time.Hour), Via: "webhook",
	}
}

// mustClaim claims and checks the outcome.
func mustClaim(t *testing.T, s idempotency.Store, c idempotency.Claim, now time.Time, alive func(string) bool, want idempotency.Outcome) idempotency.Claim {
	t.Helper()
	row, out, err := s.Claim(context.Background(), c, now, alive)
	require.NoError(t, err)
	require.Equal(t, want.String(), out.String(), "claim of %s by %s", c.Key, c.Owner)
	return row
}

// ExerciseKeys runs the key store's part of the suite alone: for a database
// set up in a way that matters to the key store (a server whose default
// isolation is SERIALIZABLE, say) and not to the ledger, or not yet.
func ExerciseKeys(t *testing.T, open func(t *testing.T) Stores) {
	t.Helper()
	exerciseKeys(t, open)
}

func exerciseKeys(t *testing.T, open func(t *testing.T) Stores) {
	ctx := context.Background()
	run := func(name string, f func(t *testing.T, s idempotency.Store)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, open(t).Keys)
		})
	}

	run("a new key is acquired and stored as claimed", func(t *testing.T, s idempotency.Store) {
		c := claimFor("key:a", "h1", "A")
		want := c
		want.State, want.ClaimedAt = idempotency.StateClaimed, base
		row := mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
		assertClaim(t, want, row)
		got, ok, err := s.Get(ctx, "key:a")
		require.NoError(t, err)
		require.True(t, ok)
		assertClaim(t, want, got)
	})

	run("an unknown key is not found", func(t *testing.T, s idempotency.Store) {
		_, ok, err := s.Get(ctx, "key:none")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	run("the same key while its owner lives and its lease runs is in progress", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		row := mustClaim(t, s, claimFor("key:a", "h1", "B"), base.Add(59*time.Second), allAlive, idempotency.InProgress)
		assert.Equal(t, "A", row.Owner)
		assert.Equal(t, idempotency.StateClaimed, row.State)
	})

	run("a committed key replays its result to anyone", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		result := json.RawMessage(`{"ts": "1712.5", "channel":"C123"}`)
		require.NoError(t, s.Commit(ctx, "key:a", "A", result))
		row := mustClaim(t, s, claimFor("key:a", "h1", "B"), base.Add(time.Second), noneAlive, idempotency.Replay)
		assert.Equal(t, string(result), string(row.Result), "the result comes back byte for byte")
		assert.Equal(t, idempotency.StateCommitted, row.State)
		assert.Equal(t, "A", row.Owner)
	})

	run("a key reused with other arguments is a mismatch in every state", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		row := mustClaim(t, s, claimFor("key:a", "h2", "B"), base, allAlive, idempotency.Mismatch)
		assert.Equal(t, "h1", row.ArgsHash)
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		mustClaim(t, s, claimFor("key:a", "h2", "B"), base, allAlive, idempotency.Mismatch)
		mustClaim(t, s, claimFor("key:a", "h1", "B"), base, allAlive, idempotency.Reacquired)
		require.NoError(t, s.Commit(ctx, "key:a", "B", json.RawMessage(`{}`)))
		mustClaim(t, s, claimFor("key:a", "h2", "C"), base, allAlive, idempotency.Mismatch)
	})

	run("an expired key is acquired afresh, even with other arguments", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.Commit(ctx, "key:a", "A", json.RawMessage(`{"n":1}`)))
		later := base.Add(time.Hour) // exactly ExpiresAt
		c := claimFor("key:a", "h2", "B")
		c.LeaseUntil, c.ExpiresAt, c.Via = later.Add(time.Minute), later.Add(time.Hour), "api"
		row := mustClaim(t, s, c, later, allAlive, idempotency.Acquired)
		want := c
		want.State, want.ClaimedAt = idempotency.StateClaimed, later
		assertClaim(t, want, row)
		assert.Nil(t, row.ReplacedInDoubt, "a committed row explains its call: nothing to name")
		assert.ErrorIs(t, s.Commit(ctx, "key:a", "A", json.RawMessage(`{}`)), idempotency.ErrNotOwner)
	})

	// A row in doubt is the only trace of a call that may have acted; a
	// claim that replaces it once it has expired must hand it back, for the
	// caller to name before the trace is gone (the prune never sees it).
	expiredInDoubt := []struct {
		name  string
		setup func(t *testing.T, s idempotency.Store)
		alive func(string) bool
	}{
		{"marked in doubt", func(t *testing.T, s idempotency.Store) {
			require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		}, allAlive},
		{"claimed by an owner that died", func(*testing.T, idempotency.Store) {}, noneAlive},
		{"claimed past its lease by an owner that lives", func(*testing.T, idempotency.Store) {}, allAlive},
	}
	for _, tt := range expiredInDoubt {
		run("an expired key "+tt.name+" is acquired afresh and the claim returns the row it replaced", func(t *testing.T, s idempotency.Store) {
			first := claimFor("key:a", "h1", "A")
			first.LeaseUntil, first.ExpiresAt = base.Add(time.Minute), base.Add(30*time.Second)
			mustClaim(t, s, first, base, allAlive, idempotency.Acquired)
			tt.setup(t, s)
			now := base.Add(time.Minute) // the lease's end: expired
			c := claimFor("key:a", "h2", "B")
			c.Target, c.LeaseUntil, c.ExpiresAt, c.Via = "C999", now.Add(time.Minute), now.Add(time.Hour), "api"
			row := mustClaim(t, s, c, now, tt.alive, idempotency.Acquired)
			want := c
			want.State, want.ClaimedAt = idempotency.StateClaimed, now
			assertClaim(t, want, row)
			require.NotNil(t, row.ReplacedInDoubt, "the replaced row was in doubt and must be named")
			old := first
			old.State, old.ClaimedAt = idempotency.StateClaimed, base
			if tt.name == "marked in doubt" {
				old.State = idempotency.StateInDoubt
			}
			assertClaim(t, old, *row.ReplacedInDoubt)
			got, ok, err := s.Get(ctx, "key:a")
			require.NoError(t, err)
			require.True(t, ok)
			assertClaim(t, want, got)
			assert.Nil(t, got.ReplacedInDoubt)
		})
	}

	run("Restore puts the replaced row back in doubt in place of its owner's claim, and only for that owner", func(t *testing.T, s idempotency.Store) {
		first := claimFor("key:a", "h1", "A")
		first.Target, first.Via = "T1", "api"
		first.LeaseUntil, first.ExpiresAt = base.Add(time.Minute), base.Add(30*time.Second)
		mustClaim(t, s, first, base, allAlive, idempotency.Acquired)
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		now := base.Add(time.Minute)
		c := claimFor("key:a", "h2", "B")
		c.LeaseUntil, c.ExpiresAt = now.Add(time.Minute), now.Add(time.Hour)
		row := mustClaim(t, s, c, now, allAlive, idempotency.Acquired)
		require.NotNil(t, row.ReplacedInDoubt)
		old := *row.ReplacedInDoubt

		assert.ErrorIs(t, s.Restore(ctx, "Z", old), idempotency.ErrNotOwner, "only the claim's owner takes it back")
		require.NoError(t, s.Restore(ctx, "B", old))
		got, ok, err := s.Get(ctx, "key:a")
		require.NoError(t, err)
		require.True(t, ok, "the replaced row is back, not deleted")
		want := first
		want.State, want.ClaimedAt = idempotency.StateInDoubt, base
		assertClaim(t, want, got)
		assert.ErrorIs(t, s.Restore(ctx, "B", old), idempotency.ErrNotOwner, "B's claim is gone")
		open, err := s.InDoubt(ctx, now, allAlive)
		require.NoError(t, err)
		require.Len(t, open, 1, "listed in doubt again, for the start-up report and the prune")
		// The next claim replaces it again, and names it again.
		row = mustClaim(t, s, c, now.Add(time.Second), allAlive, idempotency.Acquired)
		require.NotNil(t, row.ReplacedInDoubt)
		assertClaim(t, want, *row.ReplacedInDoubt)
	})

	run("a claim that replaces nothing in doubt returns no replaced row", func(t *testing.T, s idempotency.Store) {
		row := mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		assert.Nil(t, row.ReplacedInDoubt, "a new key")
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		row = mustClaim(t, s, claimFor("key:a", "h1", "B"), base.Add(time.Second), allAlive, idempotency.Reacquired)
		assert.Nil(t, row.ReplacedInDoubt, "a reacquired key keeps its row, and reconciles it")
		row = mustClaim(t, s, claimFor("key:a", "h1", "C"), base.Add(2*time.Second), allAlive, idempotency.InProgress)
		assert.Nil(t, row.ReplacedInDoubt)
	})

	run("a retry of a key in doubt keeps how the first attempt was sent", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		retry := claimFor("key:a", "h1", "B")
		retry.Via = "api" // the configuration has changed since
		row := mustClaim(t, s, retry, base.Add(time.Second), allAlive, idempotency.Reacquired)
		assert.Equal(t, "webhook", row.Via, "the retry must look for what the first attempt may have done")
		got, ok, err := s.Get(ctx, "key:a")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "webhook", got.Via)
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "B"))
		open, err := s.InDoubt(ctx, base.Add(2*time.Second), allAlive)
		require.NoError(t, err)
		require.Len(t, open, 1)
		assert.Equal(t, "webhook", open[0].Via)
	})

	takeovers := []struct {
		name  string
		setup func(t *testing.T, s idempotency.Store)
		now   time.Time
		alive func(string) bool
	}{
		{"a key marked in doubt", func(t *testing.T, s idempotency.Store) {
			require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		}, base.Add(time.Second), allAlive},
		{"a claim whose owner died", func(*testing.T, idempotency.Store) {}, base.Add(time.Second), noneAlive},
		{"a claim past its lease", func(*testing.T, idempotency.Store) {}, base.Add(time.Minute), allAlive},
	}
	for _, tt := range takeovers {
		run(tt.name+" is reacquired by the new owner, who alone may finish it", func(t *testing.T, s idempotency.Store) {
			mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
			tt.setup(t, s)
			c := claimFor("key:a", "h1", "B")
			c.LeaseUntil = tt.now.Add(time.Minute)
			row := mustClaim(t, s, c, tt.now, tt.alive, idempotency.Reacquired)
			want := claimFor("key:a", "h1", "B")
			want.State, want.ClaimedAt, want.LeaseUntil = idempotency.StateClaimed, base, c.LeaseUntil
			assertClaim(t, want, row) // ClaimedAt stays the first claim's
			got, _, err := s.Get(ctx, "key:a")
			require.NoError(t, err)
			assertClaim(t, want, got)
			assert.ErrorIs(t, s.Commit(ctx, "key:a", "A", json.RawMessage(`{}`)), idempotency.ErrNotOwner)
			require.NoError(t, s.Commit(ctx, "key:a", "B", json.RawMessage(`{"ok":true}`)))
		})
	}

	run("only the owner may commit, mark in doubt, release or extend", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		for _, key := range []string{"key:a", "key:none"} {
			assert.ErrorIs(t, s.Commit(ctx, key, "B", json.RawMessage(`{}`)), idempotency.ErrNotOwner)
			assert.ErrorIs(t, s.MarkInDoubt(ctx, key, "B"), idempotency.ErrNotOwner)
			assert.ErrorIs(t, s.Release(ctx, key, "B"), idempotency.ErrNotOwner)
			assert.ErrorIs(t, s.Extend(ctx, key, "B", base.Add(time.Hour)), idempotency.ErrNotOwner)
		}
		got, _, err := s.Get(ctx, "key:a")
		require.NoError(t, err)
		assert.Equal(t, "A", got.Owner)
		assert.Equal(t, idempotency.StateClaimed, got.State)
		assert.True(t, got.LeaseUntil.Equal(base.Add(time.Minute)))
	})

	run("a released key is acquired again", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.Release(ctx, "key:a", "A"))
		_, ok, err := s.Get(ctx, "key:a")
		require.NoError(t, err)
		assert.False(t, ok)
		mustClaim(t, s, claimFor("key:a", "h2", "B"), base, allAlive, idempotency.Acquired)
	})

	run("a key in doubt may be released by its owner", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"), "marking twice is harmless")
		require.NoError(t, s.Release(ctx, "key:a", "A"))
		mustClaim(t, s, claimFor("key:a", "h1", "B"), base, allAlive, idempotency.Acquired)
	})

	run("a committed key can be neither released nor put in doubt", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.Commit(ctx, "key:a", "A", json.RawMessage(`{"n":1}`)))
		assert.ErrorIs(t, s.Release(ctx, "key:a", "A"), idempotency.ErrNotOwner)
		assert.ErrorIs(t, s.MarkInDoubt(ctx, "key:a", "A"), idempotency.ErrNotOwner)
		assert.ErrorIs(t, s.Extend(ctx, "key:a", "A", base.Add(time.Hour)), idempotency.ErrNotOwner)
		mustClaim(t, s, claimFor("key:a", "h1", "B"), base, allAlive, idempotency.Replay)
	})

	run("an extended lease keeps others waiting", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.Extend(ctx, "key:a", "A", base.Add(5*time.Minute)))
		mustClaim(t, s, claimFor("key:a", "h1", "B"), base.Add(2*time.Minute), allAlive, idempotency.InProgress)
		mustClaim(t, s, claimFor("key:a", "h1", "B"), base.Add(5*time.Minute), allAlive, idempotency.Reacquired)
	})

	run("in doubt lists exactly the keys in doubt, expired or not, oldest first", func(t *testing.T, s idempotency.Store) {
		now := base.Add(2 * time.Minute)
		dead := func(owner string) bool { return owner != "dead" }
		add := func(key, owner string, at time.Time, lease time.Duration, expires time.Duration) {
			c := claimFor(key, "h", owner)
			c.LeaseUntil, c.ExpiresAt = at.Add(lease), at.Add(expires)
			mustClaim(t, s, c, at, allAlive, idempotency.Acquired)
		}
		add("key:committed", "A", base, time.Hour, time.Hour)
		require.NoError(t, s.Commit(ctx, "key:committed", "A", json.RawMessage(`{}`)))
		add("key:live", "A", base, time.Hour, time.Hour)
		add("key:lease-over", "A", base.Add(3*time.Second), time.Minute, time.Hour)
		add("key:dead-owner", "dead", base.Add(2*time.Second), time.Hour, time.Hour)
		add("key:marked", "A", base.Add(1*time.Second), time.Hour, time.Hour)
		require.NoError(t, s.MarkInDoubt(ctx, "key:marked", "A"))
		add("key:marked-expired", "A", base, time.Minute, time.Minute)
		require.NoError(t, s.MarkInDoubt(ctx, "key:marked-expired", "A"))
		// Past expires_at, but the lease runs: the call may still be
		// sending, or (marked, dead owner) may have acted, so only the live
		// one is left out.
		add("key:running-past-expiry", "A", base, time.Hour, time.Minute)
		add("key:marked-past-expiry", "A", base.Add(4*time.Second), time.Hour, time.Minute)
		require.NoError(t, s.MarkInDoubt(ctx, "key:marked-past-expiry", "A"))
		add("key:dead-owner-past-expiry", "dead", base.Add(5*time.Second), time.Hour, time.Minute)

		got, err := s.InDoubt(ctx, now, dead)
		require.NoError(t, err)
		keys := make([]string, 0, len(got))
		for _, c := range got {
			keys = append(keys, c.Key)
		}
		assert.Equal(t, []string{"key:marked-expired", "key:marked", "key:dead-owner", "key:lease-over",
			"key:marked-past-expiry", "key:dead-owner-past-expiry"}, keys,
			"expired keys in doubt are listed until pruned: the start-up report must name them")
		for _, c := range got {
			if c.Key == "key:marked" {
				assert.Equal(t, idempotency.StateInDoubt, c.State)
				assert.True(t, c.ClaimedAt.Equal(base.Add(time.Second)))
			}
		}
	})

	run("prune removes expired keys only", func(t *testing.T, s idempotency.Store) {
		now := base.Add(time.Hour)
		for i, exp := range []time.Duration{time.Minute, time.Hour, time.Hour + time.Microsecond, 2 * time.Hour} {
			c := claimFor(fmt.Sprintf("key:%d", i), "h", "A")
			c.ExpiresAt = base.Add(exp)
			mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
		}
		n, err := s.Prune(ctx, now)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		for i, want := range []bool{false, false, true, true} {
			_, ok, err := s.Get(ctx, fmt.Sprintf("key:%d", i))
			require.NoError(t, err)
			assert.Equal(t, want, ok, "key:%d", i)
		}
		n, err = s.Prune(ctx, now)
		require.NoError(t, err)
		assert.Zero(t, n)
	})

	// A key's expires_at is counted from its claim (IDEMPOTENCY_WINDOW may be
	// 30 s), its lease from the last heartbeat (270 s by default). Past
	// expires_at but inside the lease, the first call may still be sending:
	// the row must decide the claim as it would before expires_at, never be
	// taken afresh (a second effect while the first is under way).
	pastExpiry := []struct {
		name  string
		setup func(t *testing.T, s idempotency.Store)
		alive func(string) bool
		want  idempotency.Outcome
	}{
		{"a claim whose owner lives is in progress", func(*testing.T, idempotency.Store) {}, allAlive, idempotency.InProgress},
		{"a claim whose lease was extended is in progress", func(t *testing.T, s idempotency.Store) {
			require.NoError(t, s.Extend(ctx, "key:a", "A", base.Add(20*time.Minute)))
		}, allAlive, idempotency.InProgress},
		{"a claim whose owner died is reacquired, to be reconciled", func(*testing.T, idempotency.Store) {}, noneAlive, idempotency.Reacquired},
		{"a key marked in doubt is reacquired, to be reconciled", func(t *testing.T, s idempotency.Store) {
			require.NoError(t, s.MarkInDoubt(ctx, "key:a", "A"))
		}, allAlive, idempotency.Reacquired},
	}
	for _, tt := range pastExpiry {
		run("past its expiry but inside its lease, "+tt.name+" and never acquired afresh", func(t *testing.T, s idempotency.Store) {
			c := claimFor("key:a", "h1", "A")
			c.LeaseUntil, c.ExpiresAt = base.Add(10*time.Minute), base.Add(30*time.Second)
			mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
			tt.setup(t, s)
			now := base.Add(5 * time.Minute)
			n, err := s.Prune(ctx, now)
			require.NoError(t, err)
			assert.Zero(t, n, "prune must keep the key of a call whose lease runs")
			again := claimFor("key:a", "h1", "B")
			again.LeaseUntil, again.ExpiresAt = now.Add(10*time.Minute), now.Add(30*time.Second)
			row := mustClaim(t, s, again, now, tt.alive, tt.want)
			assert.True(t, row.ClaimedAt.Equal(base), "the first claim's row stands: claimed at %v", row.ClaimedAt)
			if tt.want == idempotency.InProgress {
				assert.Equal(t, "A", row.Owner)
				require.NoError(t, s.Commit(ctx, "key:a", "A", json.RawMessage(`{"ts":"1"}`)), "the first call still owns its key")
			}
		})
	}

	run("a key whose expiry and lease have both passed is acquired afresh and pruned", func(t *testing.T, s idempotency.Store) {
		for _, key := range []string{"key:claimed", "key:marked"} {
			c := claimFor(key, "h1", "A")
			c.LeaseUntil, c.ExpiresAt = base.Add(10*time.Minute), base.Add(30*time.Second)
			mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
		}
		require.NoError(t, s.MarkInDoubt(ctx, "key:marked", "A"))
		now := base.Add(10 * time.Minute) // exactly the lease's end
		again := claimFor("key:claimed", "h1", "B")
		again.LeaseUntil, again.ExpiresAt = now.Add(time.Minute), now.Add(time.Hour)
		row := mustClaim(t, s, again, now, allAlive, idempotency.Acquired)
		assert.True(t, row.ClaimedAt.Equal(now))
		if assert.NotNil(t, row.ReplacedInDoubt, "the replaced claim's lease had run out: in doubt") {
			assert.Equal(t, "A", row.ReplacedInDoubt.Owner)
		}
		n, err := s.Prune(ctx, now)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "the key marked in doubt goes, the new claim stays")
		_, ok, err := s.Get(ctx, "key:marked")
		require.NoError(t, err)
		assert.False(t, ok)
	})

	run("prune keeps every claimed or in-doubt key whose lease runs, and only those", func(t *testing.T, s idempotency.Store) {
		now := base.Add(time.Hour)
		rows := []struct {
			key   string
			lease time.Duration
			state idempotency.State
			kept  bool
		}{
			{"key:claimed-lease-runs", 2 * time.Hour, idempotency.StateClaimed, true},
			{"key:marked-lease-runs", 2 * time.Hour, idempotency.StateInDoubt, true},
			{"key:committed-lease-runs", 2 * time.Hour, idempotency.StateCommitted, false}, // a result lives its window, no longer
			{"key:claimed-lease-over", time.Hour, idempotency.StateClaimed, false},
			{"key:marked-lease-over", time.Hour, idempotency.StateInDoubt, false},
		}
		for _, r := range rows {
			c := claimFor(r.key, "h", "A")
			c.LeaseUntil, c.ExpiresAt = base.Add(r.lease), base.Add(time.Minute)
			mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
			switch r.state {
			case idempotency.StateInDoubt:
				require.NoError(t, s.MarkInDoubt(ctx, r.key, "A"))
			case idempotency.StateCommitted:
				require.NoError(t, s.Commit(ctx, r.key, "A", json.RawMessage(`{}`)))
			}
		}
		n, err := s.Prune(ctx, now)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		for _, r := range rows {
			_, ok, err := s.Get(ctx, r.key)
			require.NoError(t, err)
			assert.Equal(t, r.kept, ok, r.key)
		}
	})

	// Config bounds IDEMPOTENCY_KEY_TTL, but a store must not rely on it: a
	// time it cannot hold (SQLite's int64 nanoseconds end in 2262,
	// PostgreSQL's timestamps in 294276) is refused, never stored as another
	// time: a key kept until 2276 once came back expired in 1691, and the
	// retry acted a second time.
	farExpiries := []struct {
		name string
		at   time.Time
		kept bool // every store must keep it
	}{
		{"in 2200 (within every store's range)", time.Date(2200, 1, 2, 3, 4, 5, 123456000, time.UTC), true},
		{"in 2276 (IDEMPOTENCY_KEY_TTL=2190000h)", base.Add(250 * 365 * 24 * time.Hour), false},
		{"in the year 300000", time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range farExpiries {
		run("a key expiring "+tt.name+" is kept exactly or refused, never stored as another time", func(t *testing.T, s idempotency.Store) {
			c := claimFor("key:far", "h1", "A")
			c.ExpiresAt = tt.at
			_, out, err := s.Claim(ctx, c, base, allAlive)
			if err != nil {
				require.False(t, tt.kept, "a store must keep a key expiring %v: %v", tt.at, err)
				_, found, err := s.Get(ctx, "key:far")
				require.NoError(t, err)
				assert.False(t, found, "a refused claim takes nothing")
				mustClaim(t, s, claimFor("key:far", "h1", "B"), base, allAlive, idempotency.Acquired)
				return
			}
			require.Equal(t, idempotency.Acquired.String(), out.String())
			require.NoError(t, s.Commit(ctx, c.Key, "A", json.RawMessage(`{"ts":"1"}`)))
			got, found, err := s.Get(ctx, c.Key)
			require.NoError(t, err)
			require.True(t, found)
			assert.True(t, got.ExpiresAt.Equal(tt.at), "expires at: want %v, got %v", tt.at, got.ExpiresAt)
			// An hour later the agent retries the same call with the same key.
			mustClaim(t, s, claimFor("key:far", "h1", "B"), base.Add(time.Hour), allAlive, idempotency.Replay)
		})
	}

	run("a lease extended to a time the store cannot hold is refused and stays as it was", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:a", "h1", "A"), base, allAlive, idempotency.Acquired)
		for _, at := range []time.Time{base.Add(250 * 365 * 24 * time.Hour), time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)} {
			want := at
			if err := s.Extend(ctx, "key:a", "A", at); err != nil {
				assert.NotErrorIs(t, err, idempotency.ErrNotOwner)
				want = base.Add(time.Minute)
			}
			got, _, err := s.Get(ctx, "key:a")
			require.NoError(t, err)
			assert.True(t, got.LeaseUntil.Equal(want), "lease: want %v, got %v", want, got.LeaseUntil)
			require.NoError(t, s.Extend(ctx, "key:a", "A", base.Add(time.Minute)))
		}
	})

	// The chain refuses a call whose Claim failed with "nothing was sent",
	// and sends once Claim succeeds: Claim's answer must be what the store
	// holds, whenever the caller's context ends (before the claim, as it
	// waits for the store, or as the store answers).
	run("a claim cancelled at any moment is reported as the store holds it", func(t *testing.T, s idempotency.Store) {
		for i := range 200 {
			key := fmt.Sprint("key:", i)
			cctx, cancel := context.WithCancel(ctx)
			if i%40 == 0 {
				cancel()
			} else {
				go func() {
					time.Sleep(time.Duration(i%40) * 10 * time.Microsecond)
					cancel()
				}()
			}
			_, out, err := s.Claim(cctx, claimFor(key, "h1", "A"), base, allAlive)
			cancel()
			got, found, gerr := s.Get(ctx, key)
			require.NoError(t, gerr)
			if err != nil {
				require.False(t, found, "claim %d was reported failed (%v), so nothing would be sent, yet %s holds the key", i, err, got.Owner)
				continue
			}
			require.Equal(t, idempotency.Acquired.String(), out.String())
			require.True(t, found, "claim %d was reported made, yet the key is not stored", i)
			assert.Equal(t, "A", got.Owner)
		}
	})

	run("concurrent claims of a new key acquire it exactly once", func(t *testing.T, s idempotency.Store) {
		counts := race(t, func(i int) idempotency.Outcome {
			_, out, err := s.Claim(ctx, claimFor("key:race", "h1", fmt.Sprint("owner-", i)), base, allAlive)
			require.NoError(t, err)
			return out
		})
		assert.Equal(t, map[idempotency.Outcome]int{idempotency.Acquired: 1, idempotency.InProgress: Concurrency - 1}, counts)
	})

	run("concurrent claims of a running key past its expiry all find it in progress", func(t *testing.T, s idempotency.Store) {
		c := claimFor("key:race", "h1", "A")
		c.LeaseUntil, c.ExpiresAt = base.Add(10*time.Minute), base.Add(30*time.Second)
		mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
		now := base.Add(time.Minute)
		counts := race(t, func(i int) idempotency.Outcome {
			again := claimFor("key:race", "h1", fmt.Sprint("owner-", i))
			again.LeaseUntil, again.ExpiresAt = now.Add(10*time.Minute), now.Add(30*time.Second)
			_, out, err := s.Claim(ctx, again, now, allAlive)
			require.NoError(t, err)
			return out
		})
		assert.Equal(t, map[idempotency.Outcome]int{idempotency.InProgress: Concurrency}, counts)
	})

	run("concurrent claims of an expired key in doubt acquire it, and return the row in doubt, exactly once", func(t *testing.T, s idempotency.Store) {
		c := claimFor("key:race", "h1", "A")
		c.ExpiresAt = base.Add(30 * time.Second)
		mustClaim(t, s, c, base, allAlive, idempotency.Acquired)
		require.NoError(t, s.MarkInDoubt(ctx, "key:race", "A"))
		now := base.Add(time.Minute)
		var (
			mu    sync.Mutex
			named int
		)
		counts := race(t, func(i int) idempotency.Outcome {
			again := claimFor("key:race", "h1", fmt.Sprint("owner-", i))
			again.LeaseUntil, again.ExpiresAt = now.Add(time.Minute), now.Add(time.Hour)
			row, out, err := s.Claim(ctx, again, now, allAlive)
			require.NoError(t, err)
			if row.ReplacedInDoubt != nil {
				mu.Lock()
				named++
				mu.Unlock()
			}
			return out
		})
		assert.Equal(t, map[idempotency.Outcome]int{idempotency.Acquired: 1, idempotency.InProgress: Concurrency - 1}, counts)
		assert.Equal(t, 1, named, "the row in doubt is handed back to the one claim that replaced it")
	})

	run("concurrent takeovers of a key in doubt reacquire it exactly once", func(t *testing.T, s idempotency.Store) {
		mustClaim(t, s, claimFor("key:race", "h1", "A"), base, allAlive, idempotency.Acquired)
		require.NoError(t, s.MarkInDoubt(ctx, "key:race", "A"))
		counts := race(t, func(i int) idempotency.Outcome {
			_, out, err := s.Claim(ctx, claimFor("key:race", "h1", fmt.Sprint("owner-", i)), base, allAlive)
			require.NoError(t, err)
			return out
		})
		assert.Equal(t, map[idempotency.Outcome]int{idempotency.Reacquired: 1, idempotency.InProgress: Concurrency - 1}, counts)
	})
}

// race runs f from Concurrency goroutines released together and counts the
// outcomes.
func race(t *testing.T, f func(i int) idempotency.Outcome) map[idempotency.Outcome]int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[idempotency.Outcome]int{}
		start  = make(chan struct{})
	)
	for i := range Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out := f(i)
			mu.Lock()
			counts[out]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// assertClaim compares claims field by field, times with Equal.
func assertClaim(t *testing.T, want, got idempotency.Claim) {
	t.Helper()
	assert.Equal(t, want.Key, got.Key, "key")
	assert.Equal(t, want.Tool, got.Tool, "tool")
	assert.Equal(t, want.ArgsHash, got.ArgsHash, "args hash")
	assert.Equal(t, want.Target, got.Target, "target")
	assert.Equal(t, want.Owner, got.Owner, "owner")
	assert.Equal(t, want.State, got.State, "state")
	assert.Equal(t, string(want.Result), string(got.Result), "result")
	assert.True(t, want.ClaimedAt.Equal(got.ClaimedAt), "claimed at: want %v, got %v", want.ClaimedAt, got.ClaimedAt)
	assert.True(t, want.LeaseUntil.Equal(got.LeaseUntil), "lease until: want %v, got %v", want.LeaseUntil, got.LeaseUntil)
	assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "expires at: want %v, got %v", want.ExpiresAt, got.ExpiresAt)
	assert.Equal(t, want.Via, got.Via, "via")
}
