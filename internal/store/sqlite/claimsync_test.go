package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A claim whose own sync fails is reported not made (chain: "nothing was
// sent") and is taken back, so that it neither answers a retry "in
// progress" nor is listed in doubt after a restart. Found in review: the
// row, committed before its sync, stayed claimed by a live owner.
func TestAClaimWhoseOwnSyncFailsLeavesNoRow(t *testing.T) {
	t.Parallel()
	ctx, now := context.Background(), time.Now()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(ctx, path, Options{Synchronous: "FULL"})
	require.NoError(t, err)
	<-db.walDone
	alive := func(string) bool { return true }

	breakWALSync(t, db)
	_, _, err = db.Keys().Claim(ctx, walClaim("k1", "a", now), now, alive)
	require.Error(t, err, "the claim is reported not made (chain: nothing was sent)")

	row, found, gerr := db.Keys().Get(ctx, "k1")
	require.NoError(t, gerr)
	assert.False(t, found, "a claim reported failed left its key claimed: %+v", row)

	require.NoError(t, db.Close())
	db2, err := Open(ctx, path, Options{Synchronous: "FULL"})
	require.NoError(t, err)
	defer db2.Close()
	<-db2.walDone
	doubt, err := db2.Keys().InDoubt(ctx, now, func(string) bool { return false })
	require.NoError(t, err)
	var keys []string
	for _, c := range doubt {
		keys = append(keys, c.Key)
	}
	assert.NotContains(t, keys, "k1", "a claim reported failed (never sent) is listed in doubt after a restart")
}
