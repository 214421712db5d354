package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A duplicate is answered 202 at its sync and its "received" receipt
// (duplicate: true) comes with the index transaction. If the process was
// killed before that transaction, recovery rebuilt the records past the
// mark but gave receipts only to the new ones: the answered duplicate
// never got a receipt at all (found in review). Recovery receipts both now.
func TestAnAnsweredDuplicateKilledBeforeItsTransactionIsStillReceipted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	killed, db := openLive(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls int
	var mu sync.Mutex
	in := newIntake(t, db, IntakeOptions{MaxBatch: 1, Jobs: func(context.Context, *sql.Tx, []int64) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 2 {
			close(entered)
			<-release
		}
		return nil
	}})
	t.Cleanup(func() {
		close(release)
		in.Close()
	})
	_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:orig", EventType: "push", Payload: []byte(`{"n":1}`)})
	require.NoError(t, err)
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:other", EventType: "push", Payload: []byte(`{}`)}))
	waitFor(t, entered, "the second transaction")
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:orig", EventType: "push", Payload: []byte(`{"n":1}`)}),
		"the duplicate is answered 202")

	// Killed here: neither the second nor the duplicate's transaction ran.
	db2 := killed()
	var receipts []Receipt
	in2 := newIntake(t, db2, IntakeOptions{Jobs: func(context.Context, *sql.Tx, []int64) error { return nil },
		Receipts: func(_ context.Context, rs []Receipt) error {
			receipts = append(receipts, rs...)
			return nil
		}})
	defer in2.Close()
	keys := map[string][]Receipt{}
	for _, r := range receipts {
		keys[r.Delivery.Key] = append(keys[r.Delivery.Key], r)
	}
	assert.Len(t, keys["github:1:other"], 1, "the new delivery is receipted as recovered")
	require.Len(t, keys["github:1:orig"], 1, "the answered duplicate has a received record (duplicate: true)")
	assert.True(t, keys["github:1:orig"][0].Duplicate)
}

// Receipts ran inside the index transaction, just before its commit, and
// the transaction is retried when it fails. A commit that failed after the
// receipts were given (SQLITE_FULL or an I/O error writing the WAL at
// COMMIT; simulated here by rolling the transaction back under the commit)
// gave the same deliveries' receipts again on the retry: the audit log said
// the delivery was received twice, neither flagged duplicate (found in
// review). A retry no longer gives receipts already given.
func TestAFailedCommitDoesNotReceiptADeliveryTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	var tx *sql.Tx
	var mu sync.Mutex
	var receipts []Receipt
	sabotaged := false
	in := newIntake(t, db, IntakeOptions{
		Jobs: func(_ context.Context, t *sql.Tx, _ []int64) error {
			tx = t // the index goroutine only
			return nil
		},
		Receipts: func(_ context.Context, rs []Receipt) error {
			mu.Lock()
			receipts = append(receipts, rs...)
			mu.Unlock()
			if !sabotaged {
				sabotaged = true
				_ = tx.Rollback() // the COMMIT that follows fails
			}
			return nil
		},
	})
	in.indexRetry = time.Millisecond
	t.Cleanup(in.Close)
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:once", EventType: "push", Payload: []byte(`{}`)}))
	require.Eventually(t, in.Settled, 10*time.Second, time.Millisecond)
	_, err := db.Find(ctx, "github:1:once")
	require.NoError(t, err, "stored by the retry")
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, receipts, 1, "one received record for one delivery: %+v", receipts)
}

// Receipts that the audit log refused were never written again once their
// transaction committed: those deliveries were processed with no
// "received" record (found in review). They are owed now, and given again
// before the next transaction's own, or at Close.
func TestRefusedReceiptsAreGivenAgainWithTheNextTransactionOrAtClose(t *testing.T) {
	t.Parallel()
	for _, atClose := range []bool{false, true} {
		t.Run(fmt.Sprintf("atClose=%v", atClose), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openTest(t)
			var mu sync.Mutex
			var failing = true
			var given []string
			in := newIntake(t, db, IntakeOptions{
				Jobs: func(context.Context, *sql.Tx, []int64) error { return nil },
				Receipts: func(_ context.Context, rs []Receipt) error {
					mu.Lock()
					defer mu.Unlock()
					if failing {
						return errors.New("no space left on device")
					}
					for _, r := range rs {
						given = append(given, r.Delivery.Key)
					}
					return nil
				},
			})
			_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:first", EventType: "push", Payload: []byte(`{}`)})
			require.ErrorIs(t, err, ErrCommittedUnconfirmed, "committed, its receipt refused")
			assert.Error(t, in.Healthy())
			mu.Lock()
			failing = false
			mu.Unlock()
			if atClose {
				in.Close()
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, []string{"github:1:first"}, given)
				return
			}
			t.Cleanup(in.Close)
			_, err = in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:second", EventType: "push", Payload: []byte(`{}`)})
			require.NoError(t, err)
			assert.NoError(t, in.Healthy())
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, []string{"github:1:first", "github:1:second"}, given, "the owed receipt first, once")
		})
	}
}
