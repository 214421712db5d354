package queue

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A receiver's start-up is stopped (SIGTERM or Ctrl-C: main's
// signal.NotifyContext cancels the ctx NewIntake runs under) just as
// recovery writes the "rejected"/torn audit record of a delivery it makes a
// tombstone. The record is appended; the tombstone transaction's Commit
// returned the cancelled context and rolled back, so the audit log said the
// delivery was made a tombstone while its row was still pending, and the
// next start made the tombstone and audited it again: two "rejected"
// records for one delivery (found in review). The tombstone's transaction
// (and recovery's re-insert) now run to their commit once begun.
func TestATombstoneIsAuditedOnceWhenStartUpIsInterruptedAfterItsRecord(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	ids, _ := seedThree(t, path, Options{})
	seg := segFile(t, path)
	st, err := os.Stat(seg)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(seg, st.Size()-3)) // the power cut: the last record is torn

	var mu sync.Mutex
	torn := map[int64]int{}
	record := func(rs []Receipt) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			if r.Torn {
				torn[r.ID]++
			}
		}
	}

	// First start: the signal arrives while the torn record is appended.
	db, err := Open(context.Background(), path, Options{})
	require.NoError(t, err)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	in, err := NewIntake(ctx, db, IntakeOptions{Jobs: RiverInserter(client, 3),
		Receipts: func(_ context.Context, rs []Receipt) error {
			record(rs)
			cancel() // SIGTERM, as the record is written
			return nil
		}})
	if err == nil {
		in.Close()
	}
	cancel()
	var state string
	require.NoError(t, db.read.QueryRow(`SELECT state FROM webhook_delivery WHERE id = ?`, ids[2]).Scan(&state))
	require.NoError(t, db.Close())
	t.Logf("first start: err %v; delivery %d now %s; torn receipts %v", err, ids[2], state, torn)

	// The next start, uninterrupted.
	_, in2 := restart(t, path, IntakeOptions{Receipts: func(_ context.Context, rs []Receipt) error {
		record(rs)
		return nil
	}})
	_ = in2

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[int64]int{ids[2]: 1}, torn,
		"delivery %d was made a tombstone once, and must be audited \"rejected\"/torn once (first start left it %s)", ids[2], state)
}
