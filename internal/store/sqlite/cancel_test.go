package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

func cancelClaim(key, owner string, now time.Time) idempotency.Claim {
	return idempotency.Claim{Key: key, Tool: "createTicket", ArgsHash: "h", Target: "acme/app", Owner: owner,
		LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
}

// cancelStorm makes claims of a key in progress (each one an
// IMMEDIATE transaction that finds the key taken and rolls back) whose
// calls the client cancels at a random moment, each followed by a claim
// that is not cancelled. It returns the first error of such a claim, or nil
// after 2 s without one.
func cancelStorm(t *testing.T, serve *DB) error {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	alive := func(string) bool { return true }
	_, out, err := serve.Keys().Claim(ctx, cancelClaim("running", "first-call", now), now, alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out)
	deadline := time.Now().Add(2 * time.Second) // it failed within 0.2 s before the fix
	for i := 0; time.Now().Before(deadline); i++ {
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			cancel() // notifications/cancelled
		}()
		_, _, _ = serve.Keys().Claim(cctx, cancelClaim("running", fmt.Sprint("retry-", i), now), now, alive)
		cancel()
		if _, out, err := serve.Keys().Claim(ctx, cancelClaim("running", "next-call", now), now, alive); err != nil {
			return fmt.Errorf("after %d cancelled calls: %w", i+1, err)
		} else if out != idempotency.InProgress {
			return fmt.Errorf("after %d cancelled calls: %v, want in progress", i+1, out)
		}
	}
	return nil
}

// TestACancelledClaimNeverLeavesTheWriteConnectionInATransaction:
// an agent cancels tool calls while their claims run. A claim of a key that
// exists runs BEGIN IMMEDIATE ... COMMIT on the one write connection
// (writer.tx). modernc's stmt.exec returns ctx.Err() whenever the context
// ended before the call returned, even when the statement had run: a BEGIN
// IMMEDIATE that succeeded is taken for a failed one and never rolled back,
// and the connection stays inside that transaction from then on. Every
// later claim of an existing key fails ("cannot start a transaction within
// a transaction") until serve restarts.
func TestACancelledClaimNeverLeavesTheWriteConnectionInATransaction(t *testing.T) {
	t.Parallel()
	serve, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), Options{})
	require.NoError(t, err)
	defer serve.Close()
	require.NoError(t, cancelStorm(t, serve), "a claim that no one cancelled, after cancelled ones")
}

// TestAfterACancelledClaimNewClaimsAndResultsAreStillDurable: what
// the connection left inside a transaction does to the calls after it. A new
// key's claim "succeeds" (the chain then sends) and its result "commits",
// both inside the transaction that is never committed: another serve on the
// DATA_DIR cannot see them (it waits for the write lock the stuck
// connection holds and fails with "database is locked"), and once this
// serve exits or is killed they are gone, so the same call with the same
// key acts a second time. README: "the key is claimed in SQLite and the
// claim is on disk before anything leaves the process"; one effect per key
// "among all saas-mcp processes that share one DATA_DIR".
func TestAfterACancelledClaimNewClaimsAndResultsAreStillDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	serve, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = serve.Close() })
	other, err := Open(ctx, path, Options{BusyTimeout: 500 * time.Millisecond}) // a second serve
	require.NoError(t, err)
	defer other.Close()
	if err := cancelStorm(t, serve); err == nil {
		return // the connection never got stuck: nothing more to show
	} else {
		t.Logf("stuck: %v", err)
	}
	now := time.Now()
	alive := func(string) bool { return true }
	_, out, err := serve.Keys().Claim(ctx, cancelClaim("deploy-42", "call-a", now), now, alive)
	require.NoError(t, err)
	require.Equal(t, idempotency.Acquired, out, "the new call goes on to send")
	// (Its Commit then fails, "Safety level may not be changed inside a
	// transaction", which the chain only logs: the agent gets its result.)

	_, out, err = other.Keys().Claim(ctx, cancelClaim("deploy-42", "call-b", now), now, alive)
	assert.NoError(t, err, "another serve on the DATA_DIR can claim")
	assert.Equal(t, idempotency.InProgress, out, "and sees the first call's claim")

	require.NoError(t, serve.Close()) // serve exits or is killed
	_, out, err = other.Keys().Claim(ctx, cancelClaim("deploy-42", "call-b", now), now, alive)
	require.NoError(t, err)
	assert.NotEqual(t, idempotency.Acquired, out,
		"after serve is gone its claim must still be there: Acquired means the same key is sent again, with no reconciliation")
}

// TestAClaimThatReportsFailureLeavesNoClaim: the same driver behaviour
// on the one-statement claim of a new key. When the client cancels just as
// the INSERT commits, Claim returns the context's error, so the chain tells
// the agent "idempotency store cannot be written, so nothing was sent", yet
// the claim is on disk, owned by a call that is over and by a process that
// is alive: the agent's retry with the same key is told "the first call with
// this key is still in progress" until the lease runs out (HTTP_MAX_CALL_WAIT
// + attempts x HTTP_TIMEOUT + 1 min: 4.5 min by default), although no call
// runs.
func TestAClaimThatReportsFailureLeavesNoClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	serve, err := Open(ctx, filepath.Join(t.TempDir(), "state.db"), Options{})
	require.NoError(t, err)
	defer serve.Close()
	deadline := time.Now().Add(2 * time.Second) // it failed within 0.2 s before the fix
	for i := 0; time.Now().Before(deadline); i++ {
		key := fmt.Sprint("new-", i)
		now := time.Now()
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			time.Sleep(time.Duration(rand.IntN(400)) * time.Microsecond)
			cancel()
		}()
		_, _, err := serve.Keys().Claim(cctx, cancelClaim(key, idempotency.CallOwner(idempotency.OwnerID()), now), now, idempotency.Alive)
		cancel()
		if err == nil {
			continue
		}
		_, found, gerr := serve.Keys().Get(ctx, key)
		require.NoError(t, gerr)
		require.False(t, found, "claim %d failed (%v), so the chain said nothing was sent, but the key is claimed", i, err)
	}
}
