package queue

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileAndPipe returns a new file, which fdatasync syncs, and a pipe's
// write end, which it refuses (EINVAL); both closed when the test ends.
func fileAndPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(); _ = w.Close() })
	return f, w
}

// The raw fdatasync must report what the kernel says as syscall.Fdatasync
// does: a flush that fails refuses every delivery from then on, so an
// error swallowed here would answer 202 for a record not on disk.
func TestRawFdatasyncReportsWhatTheKernelSays(t *testing.T) {
	t.Parallel()
	file, w := fileAndPipe(t)
	_, err := file.Write([]byte("record"))
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		fd   uintptr
		want error
	}{
		{"a file", file.Fd(), nil},
		{"a pipe, which cannot be synced", w.Fd(), syscall.EINVAL},
		// Far above any descriptor open (found in review: a closed one's
		// number was reused by a parallel test).
		{"no descriptor", 1 << 30, syscall.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawFdatasync(tc.fd)
			require.Equal(t, syscall.Fdatasync(int(tc.fd)), got, "the raw call answers as syscall.Fdatasync does")
			if tc.want == nil {
				require.NoError(t, got)
			} else {
				require.True(t, errors.Is(got, tc.want), "got %v, want %v", got, tc.want)
			}
		})
	}
}

// A flush keeps its P only once the receiver has asked for it
// (HoldPDuringSyncs, having added a P), with at least 3 Ps, and one flush
// at a time; every path syncs.
func TestAFlushKeepsItsPOnlyWhenAllowed(t *testing.T) {
	// Not parallel: it sets GOMAXPROCS and the package's switch.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer holdP.Store(holdP.Load())
	f, w := fileAndPipe(t)
	for _, tc := range []struct {
		name    string
		hold    bool
		procs   int
		busy    bool // another flush holds its P
		wantRaw bool
	}{
		{"not asked for", false, 3, false, false},
		{"asked for, 3 Ps", true, 3, false, true},
		{"asked for, 2 Ps", true, 2, false, false},
		{"asked for, 1 P", true, 1, false, false},
		{"another flush holds its P", true, 3, true, false},
	} {
		holdP.Store(tc.hold)
		runtime.GOMAXPROCS(tc.procs)
		rawBusy.Store(tc.busy)
		before := rawFlushes.Load()
		_, err := f.Write([]byte("record"))
		require.NoError(t, err)
		require.NoError(t, fdatasyncFile(f), tc.name)
		assert.Equal(t, tc.wantRaw, rawFlushes.Load() > before, "%s: kept its P", tc.name)
		assert.Equal(t, tc.busy, rawBusy.Load(), "%s: the other flush's mark is left alone, and this one's cleared", tc.name)
		require.ErrorIs(t, fdatasyncFile(w), syscall.EINVAL, "%s: an error is reported", tc.name)
		rawBusy.Store(false)
	}
}

// Two flushes at once (the writer leaving a segment while the sync stage
// flushes) do not both keep their P: found in review, with GOMAXPROCS at 2
// both Ps were held and no other goroutine ran until a flush ended.
func TestTwoFlushesAtOnceKeepOnePAtMost(t *testing.T) {
	// Not parallel: it sets GOMAXPROCS and the package's switch.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	defer holdP.Store(holdP.Load())
	holdP.Store(true)
	dir := t.TempDir()
	buf := make([]byte, 1<<20)
	var files []*os.File
	for i := range 2 {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		require.NoError(t, err)
		defer f.Close()
		for range 48 {
			_, err := f.Write(buf)
			require.NoError(t, err)
		}
		files = append(files, f)
	}
	before := rawFlushes.Load()
	start := time.Now()
	var wg sync.WaitGroup
	ends := make([]time.Duration, 2)
	for i, f := range files {
		wg.Go(func() {
			assert.NoError(t, fdatasyncFile(f))
			ends[i] = time.Since(start)
		})
	}
	wg.Wait()
	if min(ends[0], ends[1]) < 5*time.Millisecond {
		t.Skip("this disk flushed 48 MB too fast for the two flushes to be known to overlap")
	}
	assert.Equal(t, int64(1), rawFlushes.Load()-before, "one of two overlapping flushes kept its P")
}
