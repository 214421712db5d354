package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// A clean stop (every batch committed and synced, intake closed) followed by
// a start must change nothing: no tombstone, no re-inserted row, no bytes cut.
func TestACleanRestartChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	var failJobs atomic.Bool
	ins := RiverInserter(client, 3)
	in, err := NewIntake(ctx, db, IntakeOptions{MaxBatch: 1, Jobs: func(ctx context.Context, tx *sql.Tx, ids []int64) error {
		if failJobs.Load() {
			return errors.New("boom")
		}
		return ins(ctx, tx, ids)
	}})
	require.NoError(t, err)
	n := 0
	put := func(key, payload string) {
		_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(payload)})
		require.NoError(t, err)
		n++
	}
	for s := 0; s < 3; s++ {
		for i := 0; i < 5; i++ {
			put(fmt.Sprintf("github:1:s%d-%d", s, i), fmt.Sprintf(`{"s":%d,"i":%d}`, s, i))
			put(fmt.Sprintf("github:1:empty%d-%d", s, i), "")
			put(fmt.Sprintf("github:1:s%d-%d", s, i), `{"dup":true}`) // duplicate
		}
		failJobs.Store(true)
		_, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:fail%d", s), EventType: "push", Payload: []byte(`{"f":1}`)})
		require.Error(t, err)
		failJobs.Store(false)
		startNextSegment(db)
	}
	put("github:1:last", `{"last":1}`)
	var before int
	require.NoError(t, db.read.QueryRow(`SELECT count(*) FROM webhook_delivery`).Scan(&before))
	in.Close()
	require.NoError(t, db.Close())

	for round := 0; round < 3; round++ {
		db2, err := Open(ctx, path, Options{})
		require.NoError(t, err)
		client2, err := db2.NewRiver(RiverConfig{})
		require.NoError(t, err)
		in2, err := NewIntake(ctx, db2, IntakeOptions{Jobs: RiverInserter(client2, 3)})
		require.NoError(t, err)
		require.Equal(t, Recovery{}, in2.Recovered(), "round %d: a clean restart mends nothing", round)
		var after, torn int
		require.NoError(t, db2.read.QueryRow(`SELECT count(*), count(*) FILTER (WHERE outcome = 'torn') FROM webhook_delivery`).Scan(&after, &torn))
		require.Equal(t, before, after)
		require.Zero(t, torn)
		in2.Close()
		require.NoError(t, db2.Close())
	}
}
