package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// append checked the sticky fsync error once, before it takes mu and the
// flock, and never again (found in review). An fsync that failed in between (the deferred-sync
// loop runs one every 20 ms, concurrently with appends) is missed: the
// record is appended after the failed fsync and WriteDeferred answers nil,
// so a tool call's started record counts as written and the call goes on
// to the provider, although "any earlier fsync of it failed" must refuse
// it (README, Fail closed) and nothing may be appended after it (the
// sticky error exists because a later fsync can succeed without the pages
// the failed one lost). The window is widened deterministically here with
// the Now hook, which append calls between its check and its write: the
// hook records the failure exactly as syncTo does when f.Sync fails on
// another goroutine at that moment.
func TestAnFsyncFailingWhileAnAppendWaitsRefusesThatAppend(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	var w *Writer
	var failNow atomic.Bool
	failed := errors.New("sync audit log: input/output error")
	now := func() time.Time {
		if failNow.Load() {
			// Another goroutine's fsync fails now (syncTo's error path).
			w.smu.Lock()
			w.syncErr = failed
			w.smu.Unlock()
		}
		return time.Now()
	}
	var err error
	w, err = Open(path, Options{Sync: true, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Action: "x", Status: StatusStarted}))

	failNow.Store(true)
	err = w.WriteDeferred(ctx, Record{Actor: "a", Action: "y", Status: StatusStarted})
	assert.ErrorIs(t, err, failed, "a started record appended after the log's fsync failed is refused")
	raw, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, 1, bytes.Count(raw, []byte("\n")), "nothing is appended after the failed fsync:\n%s", raw)
}
