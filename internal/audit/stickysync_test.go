package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fail closed (README): once an fsync of the log has failed, every later
// append is refused, the deferred ones a tool call's started record uses
// included, and nothing more is written to the log (a later fsync could
// succeed without the pages the failed one lost).
func TestAfterAFailedFsyncEveryAppendIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{Sync: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Action: "x", Status: StatusStarted}))

	failed := errors.New("sync audit log: input/output error")
	w.smu.Lock()
	w.syncErr = failed // what syncTo records when f.Sync fails
	w.smu.Unlock()

	assert.ErrorIs(t, w.WriteDeferred(ctx, Record{Actor: "a", Action: "x", Status: StatusStarted}), failed)
	assert.ErrorIs(t, w.WriteBatchDeferred(ctx, []Record{{Actor: "a", Action: "x", Status: StatusReceived}}), failed)
	assert.ErrorIs(t, w.Write(ctx, Record{Actor: "a", Action: "x", Status: StatusStarted}), failed)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, bytes.Count(raw, []byte("\n")), "nothing is appended after the failed fsync")
}
