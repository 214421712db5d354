package queue

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lastReceipt is the last receipt given for key: the one that says what
// became of the delivery.
func lastReceipt(t *testing.T, given [][]Receipt, key string) Receipt {
	t.Helper()
	var last *Receipt
	for _, rs := range given {
		for i := range rs {
			if rs[i].Delivery.Key == key {
				last = &rs[i]
			}
		}
	}
	require.NotNil(t, last, "no receipt for %s", key)
	return *last
}

// The receipts are given once, just before the first COMMIT that is tried,
// with the ids and duplicate flags of that attempt. When that COMMIT
// fails, the retry inserts the rows again, and what it finds may differ:
// here a prune (same writer connection, between the two tries) deletes the
// processed original of a duplicate. The retry then stored the "duplicate"
// as a new delivery with its own job (it will be processed), while its only
// "received" record said duplicate of a row that is gone (found in review).
// The retry now gives the receipt again, with what it commits.
func TestARetriedCommitReceiptsTheDuplicateFlagItCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	var mu sync.Mutex
	var tx *sql.Tx
	var jobCalls [][]int64
	entered, release := make(chan struct{}), make(chan struct{})
	var receipts [][]Receipt
	in := newIntake(t, db, IntakeOptions{
		Jobs: func(_ context.Context, t *sql.Tx, ids []int64) error {
			mu.Lock()
			tx = t // the index goroutine only
			jobCalls = append(jobCalls, append([]int64(nil), ids...))
			n := len(jobCalls)
			mu.Unlock()
			if n == 2 { // the blocker's transaction: the next deliveries queue up behind it
				close(entered)
				<-release
			}
			return nil
		},
		Receipts: func(_ context.Context, rs []Receipt) error {
			mu.Lock()
			receipts = append(receipts, rs)
			n := len(receipts)
			cur := tx
			mu.Unlock()
			if n == 3 { // the duplicate's transaction, first try
				// A prune between the failed commit and its retry deletes
				// the processed original.
				failCommitThenPrune(db, cur, "github:1:orig")
			}
			return nil
		},
	})
	in.indexRetry = time.Millisecond
	t.Cleanup(in.Close)

	orig, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:orig", EventType: "push", Payload: []byte(`{}`)})
	require.NoError(t, err)
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:blocker", EventType: "push", Payload: []byte(`{}`)}))
	waitFor(t, entered, "the blocker's transaction")
	// Both are answered and wait, in one group, for the next transaction.
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:orig", EventType: "push", Payload: []byte(`{}`)}))
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:new", EventType: "push", Payload: []byte(`{}`)}))
	close(release)
	require.Eventually(t, in.Settled, 10*time.Second, time.Millisecond)

	stored, err := db.Find(ctx, "github:1:orig")
	require.NoError(t, err, "the retry stored the delivery anew")
	mu.Lock()
	defer mu.Unlock()
	committedJobs := jobCalls[len(jobCalls)-1]
	require.Contains(t, committedJobs, stored.ID, "the committed transaction gave it a job of its own: it will be processed")
	assert.Equal(t, Enqueued{ID: stored.ID, Duplicate: false}, lastReceipt(t, receipts, "github:1:orig").Enqueued,
		"its last received record says what the committed transaction did (the original, now pruned, was id %d)", orig.ID)
	newOne, err := db.Find(ctx, "github:1:new")
	require.NoError(t, err)
	assert.Equal(t, Enqueued{ID: newOne.ID}, lastReceipt(t, receipts, "github:1:new").Enqueued)
}

// The same with a new delivery's id. ids are INTEGER PRIMARY KEY
// (max(id)+1, no AUTOINCREMENT): a prune of the newest row between the
// failed commit and its retry made the retry give the delivery another id
// than the one its received record named (found in review). The retry
// gives the receipt again, with the id it commits.
func TestARetriedCommitReceiptsTheIDItCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	var mu sync.Mutex
	var tx *sql.Tx
	var receipts [][]Receipt
	in := newIntake(t, db, IntakeOptions{
		Jobs: func(_ context.Context, t *sql.Tx, _ []int64) error {
			mu.Lock()
			tx = t
			mu.Unlock()
			return nil
		},
		Receipts: func(_ context.Context, rs []Receipt) error {
			mu.Lock()
			receipts = append(receipts, rs)
			n := len(receipts)
			cur := tx
			mu.Unlock()
			if n == 2 {
				failCommitThenPrune(db, cur, "github:1:a")
			}
			return nil
		},
	})
	in.indexRetry = time.Millisecond
	t.Cleanup(in.Close)

	_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:a", EventType: "push", Payload: []byte(`{}`)})
	require.NoError(t, err)
	require.NoError(t, in.Accept(ctx, NewDelivery{Provider: "github", Key: "github:1:b", EventType: "push", Payload: []byte(`{}`)}))
	require.Eventually(t, in.Settled, 10*time.Second, time.Millisecond)
	stored, err := db.Find(ctx, "github:1:b")
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, stored.ID, lastReceipt(t, receipts, "github:1:b").ID, "the last received record names the id the delivery was stored under")
}

// failCommitThenPrune, called from a Receipts func (inside the index
// transaction, just before its COMMIT), rolls tx back so that the COMMIT
// fails, and then deletes the delivery stored under key, as a prune between
// the failed commit and its retry would. It runs on the intake's goroutine:
// a failure panics.
func failCommitThenPrune(db *DB, tx *sql.Tx, key string) {
	_ = tx.Rollback()
	if _, err := db.write.ExecContext(context.Background(), `DELETE FROM webhook_delivery WHERE key = ?`, key); err != nil {
		panic(err)
	}
}
