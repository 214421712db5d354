package queue

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A torn payload awaits a receiver's recovery (AwaitsRecovery) while no
// receiver holds the segments and while one is still recovering them; once
// a receiver has recovered, a torn payload of a pending row is damage and
// is not awaited, but a row that recovery has meanwhile made a tombstone
// is, so that its job looks again instead of dead-lettering it.
func TestATornPayloadAwaitsRecoveryUntilAReceiverHasRecovered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	id := enqueueKey(t, in, "github:1:a", `{"a":1}`)
	in.Close()

	await := func() bool {
		t.Helper()
		ok, err := db.AwaitsRecovery(ctx, id)
		require.NoError(t, err)
		return ok
	}
	assert.True(t, await(), "no receiver: the next one recovers first")

	lock, err := db.segs.lock() // a receiver that has taken the segments and is recovering them
	require.NoError(t, err)
	assert.True(t, await(), "a receiver still recovering")
	db.segs.recovered()
	assert.False(t, await(), "a receiver that has recovered: the payload is damage")

	require.NoError(t, db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE webhook_delivery SET state = 'processed', outcome = ?, seg = NULL WHERE id = ?`, OutcomeTorn, id)
		return err
	}))
	assert.True(t, await(), "made a tombstone after the payload was read: the job looks again")
	require.NoError(t, lock.Close())
}

// Looking whether a receiver has recovered never keeps one from starting:
// workers look (receiverRecovered) while receivers start and stop, and
// every start succeeds.
func TestLookingForAReceiversRecoveryNeverRefusesAReceiver(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				_, err := db.segs.receiverRecovered()
				assert.NoError(t, err)
			}
		}()
	}
	for range 200 {
		in, err := NewIntake(context.Background(), db, IntakeOptions{Jobs: RiverInserter(client, 3)})
		if !assert.NoError(t, err) {
			break
		}
		in.Close()
	}
	stop.Store(true)
	wg.Wait()
}
