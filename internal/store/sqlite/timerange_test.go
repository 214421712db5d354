package sqlite

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// TestTimesOutsideInt64NanosecondsAreRefusedNotWrapped: the store keeps
// times as int64 Unix nanoseconds. The last and first of them are kept
// exactly; one nanosecond beyond is refused with errTimeRange and writes
// nothing, where UnixNano would have wrapped it to a time centuries away (a
// key kept until 2276 stored as expired in 1691, and its retry acting again).
func TestTimesOutsideInt64NanosecondsAreRefusedNotWrapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	claim := func(key string, expires time.Time) idempotency.Claim {
		return idempotency.Claim{Key: key, Tool: "sendMessage", ArgsHash: "h", Target: "C1", Owner: "A",
			LeaseUntil: now.Add(time.Minute), ExpiresAt: expires, Via: "api"}
	}
	tests := []struct {
		name    string
		expires time.Time
		kept    bool
	}{
		{"the last int64 nanosecond", time.Unix(0, math.MaxInt64).UTC(), true},
		{"one nanosecond later", time.Unix(0, math.MaxInt64).UTC().Add(time.Nanosecond), false},
		{"the year 2276", now.Add(250 * 365 * 24 * time.Hour), false},
		{"the first int64 nanosecond", time.Unix(0, math.MinInt64).UTC(), true},
		{"one nanosecond earlier", time.Unix(0, math.MinInt64).UTC().Add(-time.Nanosecond), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys := openTest(t, Options{}).Keys()
			_, out, err := keys.Claim(ctx, claim("key:far", tt.expires), now, nil)
			got, found, gerr := keys.Get(ctx, "key:far")
			require.NoError(t, gerr)
			if !tt.kept {
				require.ErrorIs(t, err, errTimeRange)
				assert.False(t, found, "a refused claim writes nothing, not a wrapped time (%v)", got.ExpiresAt)
				return
			}
			require.NoError(t, err)
			require.Equal(t, idempotency.Acquired, out)
			require.True(t, found)
			assert.True(t, got.ExpiresAt.Equal(tt.expires), "want %v, got %v", tt.expires, got.ExpiresAt)
		})
	}
}

// TestAnExtendPastInt64NanosecondsLeavesTheLease: Extend binds its time the
// same way, so a lease moved past 2262 is refused and the old one stands.
func TestAnExtendPastInt64NanosecondsLeavesTheLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := openTest(t, Options{}).Keys()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	c := idempotency.Claim{Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Owner: "A",
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	_, _, err := keys.Claim(ctx, c, now, nil)
	require.NoError(t, err)
	require.ErrorIs(t, keys.Extend(ctx, "key:k", "A", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)), errTimeRange)
	got, _, err := keys.Get(ctx, "key:k")
	require.NoError(t, err)
	assert.True(t, got.LeaseUntil.Equal(c.LeaseUntil), "lease: want %v, got %v", c.LeaseUntil, got.LeaseUntil)
	require.NoError(t, keys.Commit(ctx, "key:k", "A", json.RawMessage(`{}`)), "the connection is still usable")
}
