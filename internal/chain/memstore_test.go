package chain

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// TestTheInMemoryStoreGivesTheDurableStoresOutcomes: the chain's tests run
// on memStore, so a memStore that expired a running call's key, or let an
// owner release, extend or doubt a committed key, would let them pass on
// outcomes the SQLite and PostgreSQL stores never give (found in review).
// These are the cases of internal/store/storetest where it went wrong.
func TestTheInMemoryStoreGivesTheDurableStoresOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	alive := func(string) bool { return true }
	claim := func(owner string) idempotency.Claim {
		return idempotency.Claim{
			Key: "k", Tool: "sendMessage", ArgsHash: "h", Owner: owner,
			LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour),
		}
	}
	tests := []struct {
		name string
		// act runs on a store where owner "a" claimed "k" at now; it
		// returns the error of the write under test, if any.
		act     func(t *testing.T, s *memStore) error
		wantErr bool
	}{
		{"a key past its expiry whose lease still runs stays in progress", func(t *testing.T, s *memStore) error {
			require.NoError(t, s.Extend(ctx, "k", "a", now.Add(3*time.Hour)))
			_, out, err := s.Claim(ctx, claim("b"), now.Add(2*time.Hour), alive)
			require.NoError(t, err)
			assert.Equal(t, idempotency.InProgress, out)
			return nil
		}, false},
		{"a committed key cannot be released", func(t *testing.T, s *memStore) error {
			require.NoError(t, s.Commit(ctx, "k", "a", []byte(`{}`)))
			return s.Release(ctx, "k", "a")
		}, true},
		{"a committed key cannot be marked in doubt", func(t *testing.T, s *memStore) error {
			require.NoError(t, s.Commit(ctx, "k", "a", []byte(`{}`)))
			return s.MarkInDoubt(ctx, "k", "a")
		}, true},
		{"a committed key's lease cannot be extended", func(t *testing.T, s *memStore) error {
			require.NoError(t, s.Commit(ctx, "k", "a", []byte(`{}`)))
			return s.Extend(ctx, "k", "a", now.Add(time.Hour))
		}, true},
		{"a key in doubt's lease cannot be extended", func(t *testing.T, s *memStore) error {
			require.NoError(t, s.MarkInDoubt(ctx, "k", "a"))
			return s.Extend(ctx, "k", "a", now.Add(time.Hour))
		}, true},
		{"a key in doubt can be released", func(t *testing.T, s *memStore) error {
			require.NoError(t, s.MarkInDoubt(ctx, "k", "a"))
			return s.Release(ctx, "k", "a")
		}, false},
		{"another owner cannot release the key", func(t *testing.T, s *memStore) error {
			return s.Release(ctx, "k", "b")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newMemStore()
			_, out, err := s.Claim(ctx, claim("a"), now, alive)
			require.NoError(t, err)
			require.Equal(t, idempotency.Acquired, out)
			err = tt.act(t, s)
			if tt.wantErr {
				assert.ErrorIs(t, err, idempotency.ErrNotOwner)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
