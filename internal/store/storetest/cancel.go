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

	t.Run("a claim with a cancelled context is refused and writes nothing", func(t *testing.T) {
		t.Parallel()
		s := open(t).Keys
		written, accepted := 0, 0
		for i := range tries {
			key := fmt.Sprint("key:", i)
			_, _, err := s.Claim(cancelled, claimFor(key, "h1", "A"), base, allAlive)
			if !errors.Is(err, context.Canceled) {
				accepted++
			}
			_, ok, gerr := s.Get(ctx, key)
			require.NoError(t, gerr)
			if ok {
				written++
			}
		}
		assert.Equal(t, 0, accepted, "calls not refused with context.Canceled, of %d", tries)
		assert.Equal(t, 0, written, "claims made on disk with a cancelled context, of %d", tries)
	})

	t.Run("a commit with a cancelled context is refused and writes nothing", func(t *testing.T) {
		t.Parallel()
		s := open(t).Keys
		written, accepted := 0, 0
		for i := range tries {
			key := fmt.Sprint("key:", i)
			mustClaim(t, s, claimFor(key, "h1", "A"), base, allAlive, idempotency.Acquired)
			err := s.Commit(cancelled, key, "A", json.RawMessage(`{}`))
			if !errors.Is(err, context.Canceled) {
				accepted++
			}
			got, _, gerr := s.Get(ctx, key)
			require.NoError(t, gerr)
			if got.State == idempotency.StateCommitted {
				written++
			}
		}
		assert.Equal(t, 0, accepted, "calls not refused with context.Canceled, of %d", tries)
		assert.Equal(t, 0, written, "commits made with a cancelled context, of %d", tries)
	})

	t.Run("a ledger record with a cancelled context is refused and writes nothing", func(t *testing.T) {
		t.Parallel()
		l := open(t).Ledger
		written, accepted := 0, 0
		for i := range tries {
			id := fmt.Sprint("evt_", i)
			_, err := l.Record(cancelled, event(id, "cs_1", i))
			if !errors.Is(err, context.Canceled) {
				accepted++
			}
			_, ok, gerr := l.Get(ctx, id)
			require.NoError(t, gerr)
			if ok {
				written++
			}
		}
		assert.Equal(t, 0, accepted, "calls not refused with context.Canceled, of %d", tries)
		assert.Equal(t, 0, written, "events booked with a cancelled context, of %d", tries)
	})
}
