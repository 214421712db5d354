package postgres

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/storetest"
)

// serializable makes SERIALIZABLE the server's default isolation for the
// store's connections, as a database setting or a parameter in the URL can.
var serializable = map[string]string{"default_transaction_isolation": "serializable"}

func openTestWith(t testing.TB, params map[string]string) *DB {
	t.Helper()
	db, err := Open(context.Background(), withParams(t, testSchema(t), params))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

// TestKeysConformanceWithSerializableDefault: the claim's row-lock logic is
// written for READ COMMITTED, where a claimer that waited for another's lock
// then sees its row. At the server's SERIALIZABLE default, concurrent
// takeovers of a key in doubt failed with SQLSTATE 40001 instead of finding
// it in progress, and a retry storm got "idempotency store cannot be
// written". The key store must behave the same whatever the default.
func TestKeysConformanceWithSerializableDefault(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.ExerciseKeys(t, openSerializableStores)
}

// The ledger's transactions also run at READ COMMITTED whatever the
// server's default: concurrent events of one object, under a SERIALIZABLE
// default, failed with SQLSTATE 40001 instead of being recorded (found in
// review).
func TestLedgerConformanceWithSerializableDefault(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.ExerciseLedger(t, openSerializableStores)
}

// TestAClaimThatWaitedForATakeoverFindsItInProgressAtASerializableDefault:
// the deterministic form of the race above. A claim of a key in doubt that
// waits for the lock of another process taking the key over must then find
// the key in progress, as on SQLite, not fail to serialize.
func TestAClaimThatWaitedForATakeoverFindsItInProgressAtASerializableDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestWith(t, serializable)
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := func(owner string) idempotency.Claim {
		return idempotency.Claim{Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Owner: owner,
			LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	}
	_, _, err := db.Keys().Claim(ctx, claim("A"), now, nil)
	require.NoError(t, err)
	require.NoError(t, db.Keys().MarkInDoubt(ctx, "key:k", "A"))

	takeover := holdTakeover(t, db, `UPDATE idempotency_keys SET state = 'claimed', owner = 'B' WHERE key = 'key:k'`)
	type result struct {
		out idempotency.Outcome
		err error
	}
	claimed := make(chan result, 1)
	go func() {
		_, out, err := db.Keys().Claim(ctx, claim("C"), now, nil)
		claimed <- result{out, err}
	}()
	takeover()

	got := <-claimed
	require.NoError(t, got.err)
	assert.Equal(t, idempotency.InProgress.String(), got.out.String())
}

// TestAnExtendThatWaitedForATakeoverIsNotTheOwnersAtASerializableDefault:
// a heartbeat's Extend that waits for the lock of a claim taking its key
// over must then find it no longer owns the key (ErrNotOwner, which stops
// the heartbeat quietly), not fail to serialize.
func TestAnExtendThatWaitedForATakeoverIsNotTheOwnersAtASerializableDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestWith(t, serializable)
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := idempotency.Claim{Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Owner: "A",
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	_, _, err := db.Keys().Claim(ctx, c, now, nil)
	require.NoError(t, err)

	takeover := holdTakeover(t, db, `UPDATE idempotency_keys SET owner = 'B' WHERE key = 'key:k'`)
	extended := make(chan error, 1)
	go func() { extended <- db.Keys().Extend(ctx, "key:k", "A", now.Add(2*time.Minute)) }()
	takeover()

	assert.ErrorIs(t, <-extended, idempotency.ErrNotOwner)
}

// holdTakeover runs update, another process taking a key over, in a
// transaction it leaves open. The returned func waits until a statement of
// the store is blocked on that transaction's lock, then commits it.
func holdTakeover(t *testing.T, db *DB, update string) func() {
	t.Helper()
	ctx := context.Background()
	tx, err := db.pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, update)
	require.NoError(t, err)
	var pid int
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	return func() {
		t.Helper()
		require.Eventually(t, func() bool {
			var waiting int
			err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
				pid).Scan(&waiting)
			return err == nil && waiting > 0
		}, 10*time.Second, 5*time.Millisecond, "the store's statement waits for the takeover's lock")
		require.NoError(t, tx.Commit(ctx))
	}
}

// TestAClaimWhoseCallerLeavesBeforeTheReplyIsReportedMade: the chain passes
// the client's context to Claim, and refuses a call whose Claim failed with
// "idempotency store cannot be written, so nothing was sent". When the
// client cancelled after the server had committed the claim but before its
// reply was back (a database across a network: here a proxy that delays the
// server's replies), Claim reported the cancellation, and the key stayed
// claimed by a call that ended: every retry was told the first call was
// "still in progress" until the lease ran out, then reconciled a call that
// never sent. A claim that has started is now finished and reported as made.
func TestAClaimWhoseCallerLeavesBeforeTheReplyIsReportedMade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(testSchema(t))
	require.NoError(t, err)
	var slow atomic.Bool
	u.Host = delayProxy(t, u.Host, &slow, 400*time.Millisecond)
	db, err := Open(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(db.Close)
	keys := db.Keys()
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := func(key, owner string) idempotency.Claim {
		return idempotency.Claim{Key: key, Tool: "sendMessage", ArgsHash: "h1", Owner: owner,
			LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	}
	// An earlier call on the connection: its statements are prepared and the
	// connection is idle in the pool, so the next claim starts at once.
	_, _, err = keys.Claim(ctx, claim("key:earlier", "Z"), now, nil)
	require.NoError(t, err)

	slow.Store(true)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond) // the client's notifications/cancelled
	defer cancel()
	_, out, err := keys.Claim(cctx, claim("key:a", "A"), now, nil)
	slow.Store(false)
	require.NoError(t, err, "the claim had started when the caller left: it is made, and must be reported made")
	assert.Equal(t, idempotency.Acquired.String(), out.String())
	got, found, err := keys.Get(ctx, "key:a")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "A", got.Owner)
}

// TestAClaimWhoseContextHasEndedTakesNothing: a cancellation that comes
// before the claim starts is still honoured, and nothing is claimed.
func TestAClaimWhoseContextHasEndedTakesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := openTest(t).Keys()
	now := time.Now().UTC().Truncate(time.Microsecond)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err := keys.Claim(cctx, idempotency.Claim{Key: "key:a", Tool: "sendMessage", ArgsHash: "h1", Owner: "A",
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}, now, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, found, err := keys.Get(ctx, "key:a")
	require.NoError(t, err)
	assert.False(t, found)
}

// delayProxy forwards 127.0.0.1 connections to target, holding each reply
// from the server for delay while slow is set. It returns its address.
func delayProxy(t *testing.T, target string, slow *atomic.Bool, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go proxyOne(c, target, slow, delay)
		}
	}()
	return ln.Addr().String()
}

func proxyOne(c net.Conn, target string, slow *atomic.Bool, delay time.Duration) {
	defer func() { _ = c.Close() }()
	srv, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer func() { _ = srv.Close() }()
	go func() { _, _ = io.Copy(srv, c) }()
	buf := make([]byte, 64<<10)
	for {
		n, err := srv.Read(buf)
		if n > 0 {
			if slow.Load() {
				time.Sleep(delay)
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// openSerializableStores opens a store on a server whose default isolation
// is SERIALIZABLE, for the conformance suite.
func openSerializableStores(t *testing.T) storetest.Stores {
	db := openTestWith(t, serializable)
	return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
}
