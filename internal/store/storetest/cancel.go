package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// CancelledContext checks that a call made with a context that is
// already cancelled gets the same answer from every store, every time: it
// is refused with context.Canceled and writes nothing (found in review:
// SQLite's writer went ahead about half the time, PostgreSQL never).
func CancelledContext(t *testing.T, open func(t *testing.T) Stores) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	const tries = 32

	// Each case makes call i with the cancelled context (after arranging
	// what it needs with ctx) and reports whether it left its effect.
	tests := []struct {
		name string
		try  func(t *testing.T, s Stores, i int) (wrote bool, err error)
	}{
		{"a claim", func(t *testing.T, s Stores, i int) (bool, error) {
			key := fmt.Sprint("key:", i)
			_, _, err := s.Keys.Claim(cancelled, claimFor(key, "h1", "A"), base, allAlive)
			_, ok, gerr := s.Keys.Get(ctx, key)
			require.NoError(t, gerr)
			return ok, err
		}},
		{"a commit", func(t *testing.T, s Stores, i int) (bool, error) {
			key := fmt.Sprint("key:", i)
			mustClaim(t, s.Keys, claimFor(key, "h1", "A"), base, allAlive, idempotency.Acquired)
			err := s.Keys.Commit(cancelled, key, "A", json.RawMessage(`{}`))
			got, _, gerr := s.Keys.Get(ctx, key)
			require.NoError(t, gerr)
			return got.State == idempotency.StateCommitted, err
		}},
		{"a ledger record", func(t *testing.T, s Stores, i int) (bool, error) {
			id := fmt.Sprint("evt_", i)
			_, err := s.Ledger.Record(cancelled, event(id, "cs_1", i))
			_, ok, gerr := s.Ledger.Get(ctx, id)
			require.NoError(t, gerr)
			return ok, err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name+" with a cancelled context is refused and writes nothing", func(t *testing.T) {
			t.Parallel()
			s := open(t)
			written, accepted := 0, 0
			for i := range tries {
				wrote, err := tc.try(t, s, i)
				if !errors.Is(err, context.Canceled) {
					accepted++
				}
				if wrote {
					written++
				}
			}
			assert.Equal(t, 0, accepted, "calls not refused with context.Canceled, of %d", tries)
			assert.Equal(t, 0, written, "calls that wrote with a cancelled context, of %d", tries)
		})
	}
}
