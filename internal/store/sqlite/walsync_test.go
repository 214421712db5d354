package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/payments"
)

func walClaim(key, owner string, now time.Time) idempotency.Claim {
	return idempotency.Claim{Key: key, Tool: "createTicket", ArgsHash: "h", Target: "o/r", Owner: owner,
		LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
}

// SQLite names the WAL after the database's resolved path (it follows a
// symlinked file name), so the WAL to sync is the one SQLite names, not
// path+"-wal" (found in review: through a symlink every new claim failed
// after committing its row, and with a stale file at the link's "-wal"
// name the claim was reported durable after syncing that file instead).
func TestAStoreReachedThroughASymlinkSyncsTheWALSQLiteWrites(t *testing.T) {
	t.Parallel()
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("a stale file beside the link: %v", stale), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			real := filepath.Join(dir, "volume")
			require.NoError(t, os.Mkdir(real, 0o750))
			link := filepath.Join(dir, "state.db")
			require.NoError(t, os.Symlink(filepath.Join(real, "state.db"), link))
			if stale {
				require.NoError(t, os.WriteFile(link+"-wal", nil, 0o640))
			}
			db, err := Open(ctx, link, Options{Synchronous: "FULL", WriteAheadWAL: true})
			require.NoError(t, err)
			defer func() { assert.NoError(t, db.Close()) }()
			<-db.walDone

			now := time.Now()
			_, out, err := db.Keys().Claim(ctx, walClaim("k1", "a", now), now, func(string) bool { return true })
			require.NoError(t, err)
			assert.Equal(t, idempotency.Acquired, out)
			realWAL, err := os.Stat(filepath.Join(real, "state.db-wal"))
			require.NoError(t, err)
			db.w.wal.sem <- struct{}{}
			synced, err := db.w.wal.f.Stat()
			<-db.w.wal.sem
			require.NoError(t, err)
			assert.True(t, os.SameFile(realWAL, synced), "the claim was synced through another file than SQLite's WAL")
		})
	}
}

// breakWALSync points the WALSync at a procfs file, whose fdatasync
// fails with EINVAL: a real failure of the syscall, through Sync's own path.
func breakWALSync(t *testing.T, db *DB) (restore func()) {
	t.Helper()
	s := db.w.wal
	s.sem <- struct{}{}
	old := s.path
	s.path = "/proc/self/status"
	<-s.sem
	return func() {
		s.sem <- struct{}{}
		s.path = old
		<-s.sem
	}
}

// After one failed fdatasync, claims (new and reacquired) and ledger
// records all fail, even once the file could be synced again: the kernel
// may have dropped the pages it could not write.
func TestAFailedWALSyncRefusesEveryLaterDurableWrite(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{Synchronous: "FULL"})
	ctx, now := context.Background(), time.Now()
	alive := func(string) bool { return true }
	_, _, err := db.Keys().Claim(ctx, walClaim("k0", "a", now), now, alive)
	require.NoError(t, err)

	restore := breakWALSync(t, db)
	require.NoError(t, db.Healthy())
	_, _, err = db.Keys().Claim(ctx, walClaim("k1", "a", now), now, alive)
	require.Error(t, err, "a claim whose sync failed must not be reported")
	require.Error(t, db.w.wal.Err())
	require.Error(t, db.Healthy(), "for /readyz")
	restore() // the file syncs again: the error must stay

	_, _, err = db.Keys().Claim(ctx, walClaim("k2", "a", now), now, alive)
	assert.Error(t, err, "sticky: a later claim")
	require.NoError(t, db.Keys().MarkInDoubt(ctx, "k0", "a"))
	_, out, err := db.Keys().Claim(ctx, walClaim("k0", "b", now), now, func(string) bool { return false })
	assert.Error(t, err, "sticky: a reacquired claim (%v)", out)
	_, err = db.Payments().Record(ctx, payments.Event{ID: "evt_1", Type: "payment_intent.succeeded", ObjectID: "pi_1", Currency: "eur", Created: now})
	assert.Error(t, err, "sticky: a ledger record")
	assert.NotErrorIs(t, err, payments.ErrUnconfirmed, "refused before it wrote anything")
}

// A ledger record whose own sync fails was committed all the same: its
// error says so (payments.ErrUnconfirmed), so that the caller keeps its key
// in doubt instead of releasing it (found in review).
func TestALedgerRecordWhoseSyncFailsSaysItMayStand(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{Synchronous: "FULL"})
	ctx, now := context.Background(), time.Now()
	breakWALSync(t, db)
	ev := payments.Event{ID: "evt_1", Type: "payment_intent.succeeded", ObjectID: "pi_1", Currency: "eur", Created: now}
	_, err := db.Payments().Record(ctx, ev)
	require.ErrorIs(t, err, payments.ErrUnconfirmed)
	got, found, err := db.Payments().Get(ctx, "evt_1")
	require.NoError(t, err)
	assert.True(t, found, "the record was committed")
	assert.Equal(t, "evt_1", got.ID)
}

// A claim whose own sync fails is reported not made (chain: "nothing was
// sent") and taken back, and a claim after it is refused for that failure
// before it writes; so neither answers a retry "in progress" nor is listed
// in doubt at the next start, as if the call might have acted. Found in
// review, twice: first the later claims wrote their rows before failing,
// then the failing claim's own row, committed before its sync, stayed.
func TestClaimsRefusedForAFailedSyncLeaveNoRow(t *testing.T) {
	t.Parallel()
	ctx, now := context.Background(), time.Now()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(ctx, path, Options{Synchronous: "FULL"})
	require.NoError(t, err)
	<-db.walDone
	alive := func(string) bool { return true }

	breakWALSync(t, db)
	_, _, err = db.Keys().Claim(ctx, walClaim("k1", "a", now), now, alive)
	require.Error(t, err, "its own sync failed")
	_, _, err = db.Keys().Claim(ctx, walClaim("k2", "a", now), now, alive)
	require.Error(t, err, "refused by the sticky error alone")
	for _, key := range []string{"k1", "k2"} {
		row, found, err := db.Keys().Get(ctx, key)
		require.NoError(t, err)
		assert.False(t, found, "%s: a claim reported not made left a row: %+v", key, row)
	}

	require.NoError(t, db.Close())
	db2, err := Open(ctx, path, Options{Synchronous: "FULL"})
	require.NoError(t, err)
	defer func() { assert.NoError(t, db2.Close()) }()
	<-db2.walDone
	doubt, err := db2.Keys().InDoubt(ctx, now, func(string) bool { return false })
	require.NoError(t, err)
	assert.Empty(t, doubt, "claims that sent nothing are listed in doubt after a restart")
}

// Claims from two stores on one file, in many goroutines, while another
// connection truncates the WAL with wal_checkpoint(TRUNCATE) in a loop:
// every Sync finds the WAL (the same file, truncated in place) and none
// fails.
func TestClaimsOfTwoStoresSyncWhileCheckpointsTruncateTheWAL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	a, err := Open(ctx, path, Options{Synchronous: "FULL", WriteAheadWAL: true})
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(ctx, path, Options{Synchronous: "FULL", WriteAheadWAL: true})
	require.NoError(t, err)
	defer b.Close()
	ck, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	require.NoError(t, err)
	defer ck.Close()

	stop := make(chan struct{})
	var ckWG sync.WaitGroup
	ckWG.Add(1)
	go func() {
		defer ckWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = ck.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 8 {
		db := a
		if g%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				_, _, err := db.Keys().Claim(ctx, walClaim(fmt.Sprintf("k%d-%d", g, i), fmt.Sprint("o", g), now), now,
					func(string) bool { return true })
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	ckWG.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Nil(t, a.w.wal.Err())
	assert.Nil(t, b.w.wal.Err())
}
