package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Claims that commit while another claim's WAL sync is under way share the
// next sync instead of flushing the device one after another (group
// commit): 16 claims waiting behind one sync cost one or two more syncs, not
// sixteen.
func TestClaimsWaitingBehindASyncShareTheNextOne(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{Synchronous: "FULL"})
	wal := db.w.wal
	now := time.Now()
	alive := func(string) bool { return true }
	before := wal.Syncs()

	wal.sem <- struct{}{} // another claim's sync in progress
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := db.Keys().Claim(context.Background(), walClaim(fmt.Sprintf("k%d", i), "a", now), now, alive)
			errs <- err
		}()
	}
	// Every claim has committed (its row is there) and is on its way to
	// the sync when all rows are visible.
	require.Eventually(t, func() bool {
		var c int
		return db.read.QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&c) == nil && c == n
	}, 10*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	<-wal.sem
	for range n {
		require.NoError(t, <-errs)
	}
	syncs := wal.Syncs() - before
	assert.LessOrEqual(t, syncs, int64(4), "16 claims that waited together should share syncs")
	assert.GreaterOrEqual(t, syncs, int64(1))
	assert.Equal(t, int64(n), syncs+wal.Shared(), "every claim synced or was covered")
}

// A sync that began before a caller's commit may have missed it: the caller
// does not count it, and flushes again once it is over.
func TestASyncBegunBeforeACallDoesNotCoverIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db-wal")
	require.NoError(t, os.WriteFile(path, []byte("frames"), 0o600))
	s := NewWALSync(path, "x.db")
	t.Cleanup(func() { _ = s.Close() })
	var flushes atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	s.flush = func(int) error {
		if flushes.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, s.Sync(context.Background())) })
	select {
	case <-entered: // the first sync is under way; a commit now is not in it
	case <-time.After(5 * time.Second):
		close(release)
		wg.Wait()
		t.Fatal("the first call did not flush")
	}
	second := make(chan error, 1)
	go func() { second <- s.Sync(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	require.NoError(t, <-second)
	assert.Equal(t, int64(2), flushes.Load(), "the second caller must flush after its commit")
	assert.Equal(t, int64(0), s.Shared())

	// Once nothing is under way, each call flushes: no sync began after it.
	require.NoError(t, s.Sync(context.Background()))
	assert.Equal(t, int64(3), flushes.Load())
}

// A Sync after Close fails instead of opening the WAL again, a file that
// nothing would close (found in review).
func TestASyncAfterCloseFailsAndOpensNothing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db-wal")
	require.NoError(t, os.WriteFile(path, []byte("frames"), 0o600))
	s := NewWALSync(path, "x.db")
	require.NoError(t, s.Sync(context.Background()))
	require.NoError(t, s.Close())
	require.ErrorContains(t, s.Sync(context.Background()), "closed")
	assert.Nil(t, s.f, "no file held after Close")
}
