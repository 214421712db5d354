package postgres

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/safetext"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestATargetThatIsNotTextIsClaimedOnBothStores: a call's target comes
// from its arguments as they came, and writeAudit's target may be any
// string. PostgreSQL's text refuses NUL and invalid UTF-8, so such a claim
// failed there ("idempotency store cannot be written") while SQLite took
// it. The chain makes the target text first (safetext.Valid), and both
// stores then keep the same value (found in review).
func TestATargetThatIsNotTextIsClaimedOnBothStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	pg := openTest(t)
	for i, raw := range []string{"door\x00lock", "caf\xe9", "plain"} {
		target := safetext.Valid(raw)
		c, err := idempotency.Policy{}.NewClaim("writeAudit", "", "hash"+string(rune('a'+i)), target, "owner-A", now)
		require.NoError(t, err)
		for name, keys := range map[string]idempotency.Store{"sqlite": lite.Keys(), "postgres": pg.Keys()} {
			_, out, err := keys.Claim(ctx, c, now, nil)
			require.NoError(t, err, "%s: %q", name, raw)
			require.Equal(t, idempotency.Acquired, out, name)
			got, ok, err := keys.Get(ctx, c.Key)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, target, got.Target, "%s keeps the target as given", name)
		}
	}
	assert.Equal(t, "door\uFFFDlock", safetext.Valid("door\x00lock"))
	assert.Equal(t, "caf\uFFFD", safetext.Valid("caf\xe9"))
}
