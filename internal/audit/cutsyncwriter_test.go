package audit

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The writer's side of a cut whose fsync fails (a partial line another
// process left, cut off before this append): the append fails, saying so;
// the cut stands and its audit.repair record must come with the next
// append that succeeds. Under AUDIT_SYNC=never (no fsync promised) only
// that append fails; under always the failed fsync is sticky, as every
// failed fsync of the log is: nothing more is appended until a restart.
func TestAnAppendAfterACutWhoseFsyncFailed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sync bool
	}{{"AUDIT_SYNC=never", false}, {"AUDIT_SYNC=always", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "audit.ndjson")
			var failSync atomic.Bool
			w, err := Open(path, Options{Sync: tc.sync, syncFile: func(f *os.File) error {
				if failSync.Load() {
					return syscall.EIO
				}
				return f.Sync()
			}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = w.Close() })
			ctx := context.Background()
			require.NoError(t, w.Write(ctx, Record{Provider: "p", Action: "first", Target: "t", Status: StatusSucceeded}))
			// Another process is killed in the middle of its write.
			partial := `{"ts":"2026-01-01T00:00:00Z","actor":"other","prov`
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.WriteString(partial)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			failSync.Store(true)
			err = w.Write(ctx, Record{Provider: "p", Action: "second", Target: "t", Status: StatusSucceeded})
			require.ErrorIs(t, err, syscall.EIO)
			assert.ErrorContains(t, err, "sync the cut")
			failSync.Store(false)

			err = w.Write(ctx, Record{Provider: "p", Action: "third", Target: "t", Status: StatusSucceeded})
			recs := readAll(t, path)
			var actions []string
			for _, r := range recs {
				actions = append(actions, r.Action)
			}
			if tc.sync {
				require.ErrorIs(t, err, syscall.EIO, "sticky: nothing appended after a failed fsync")
				assert.Error(t, w.Healthy())
				assert.Equal(t, []string{"first"}, actions, "the partial line is cut, nothing appended")
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{"first", "audit.repair", "third"}, actions)
			assert.EqualValues(t, len(partial), recs[1].Details["bytesRemoved"])
		})
	}
}
