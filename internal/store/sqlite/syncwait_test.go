package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A claim waiting for another claim's WAL sync gives up when its context
// ends, as a claim waiting for the writer always did (found in review: the
// sticky-error check and the sync waited on a mutex held through the other
// claim's device flush, past the context, for ever on a hung disk).
func TestAClaimWaitingBehindAnotherClaimsSyncObeysItsContext(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{Synchronous: "FULL"})
	now := time.Now()
	// Another claim's fdatasync in progress (a slow device flush).
	db.w.wal.sem <- struct{}{}
	released := false
	release := func() {
		if !released {
			released = true
			<-db.w.wal.sem
		}
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := db.Keys().Claim(ctx, walClaim("k1", "a", now), now, func(string) bool { return true })
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	case <-time.After(2 * time.Second):
		release()
		<-done
		t.Fatal("a claim whose context ended 1.9 s ago was still waiting for another claim's WAL sync")
	}
}
