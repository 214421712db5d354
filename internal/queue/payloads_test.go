package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenDeletesRowsWhosePayloadDidNotReachTheDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	client, err := db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in := NewIntake(db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	var ids []int64
	for i := range 3 {
		res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: fmt.Sprintf("github:1:t%d", i), EventType: "push",
			Payload: []byte(fmt.Sprintf(`{"n":%d,"pad":"0123456789"}`, i))})
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	in.Close()
	require.NoError(t, db.Close())

	// A power cut after the WAL sync but before the segment's: the last
	// payload's bytes are cut short.
	segs, err := filepath.Glob(path + ".payloads/*.seg")
	require.NoError(t, err)
	require.Len(t, segs, 1)
	st, err := os.Stat(segs[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(segs[0], st.Size()-3))

	db, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	ds, err := db.Load(ctx, ids)
	require.NoError(t, err)
	require.Len(t, ds, 2, "the row with the torn payload is gone")
	assert.JSONEq(t, `{"n":0,"pad":"0123456789"}`, string(ds[0].Payload))
	assert.JSONEq(t, `{"n":1,"pad":"0123456789"}`, string(ds[1].Payload))
	_, err = db.Find(ctx, "github:1:t2")
	require.ErrorIs(t, err, ErrNotFound)

	client, err = db.NewRiver(RiverConfig{})
	require.NoError(t, err)
	in = NewIntake(db, IntakeOptions{Jobs: RiverInserter(client, 3)})
	res, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:t2", EventType: "push", Payload: []byte(`{"n":2}`)})
	require.NoError(t, err)
	assert.False(t, res.Duplicate, "the provider's retry is stored anew")
	res1, err := in.Enqueue(ctx, NewDelivery{Provider: "github", Key: "github:1:t1", EventType: "push", Payload: []byte(`{}`)})
	require.NoError(t, err)
	assert.True(t, res1.Duplicate, "an intact delivery is still a duplicate")
	in.Close()
	ds, err = db.Load(ctx, []int64{res.ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.JSONEq(t, `{"n":2}`, string(ds[0].Payload), "written to a new segment")
}

func TestRemoveBelowKeepsTheNewestSegment(t *testing.T) {
	t.Parallel()
	s, err := openSegments(filepath.Join(t.TempDir(), FileName))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.close()) }()
	s.mu.Lock()
	for range 3 {
		require.NoError(t, s.rotate())
	}
	s.mu.Unlock()
	require.NoError(t, s.removeBelow(1<<62))
	ns, err := s.list()
	require.NoError(t, err)
	assert.Equal(t, []int64{3}, ns, "the segment being written stays")

	other, err := openSegments(filepath.Join(filepath.Dir(s.dir), FileName))
	require.NoError(t, err)
	require.NoError(t, other.removeBelow(1<<62), "another process without a current segment")
	ns, err = other.list()
	require.NoError(t, err)
	assert.Equal(t, []int64{3}, ns)
	require.NoError(t, other.close())
}
