package queue

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// The raw fdatasync must report what the kernel says as syscall.Fdatasync
// does: a flush that fails refuses every delivery from then on, so an
// error swallowed here would answer 202 for a record not on disk.
func TestRawFdatasyncReportsWhatTheKernelSays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, err := os.Create(filepath.Join(dir, "seg"))
	require.NoError(t, err)
	defer file.Close()
	_, err = file.Write([]byte("record"))
	require.NoError(t, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	closed, err := os.Create(filepath.Join(dir, "closed"))
	require.NoError(t, err)
	closedFd := closed.Fd()
	require.NoError(t, closed.Close())

	for _, tc := range []struct {
		name string
		fd   uintptr
		want error
	}{
		{"a file", file.Fd(), nil},
		{"a pipe, which cannot be synced", w.Fd(), syscall.EINVAL},
		{"a closed descriptor", closedFd, syscall.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawFdatasync(tc.fd)
			want := syscall.Fdatasync(int(tc.fd))
			require.Equal(t, want, got, "the raw call answers as syscall.Fdatasync does")
			if tc.want == nil {
				require.NoError(t, got)
			} else {
				require.True(t, errors.Is(got, tc.want), "got %v, want %v", got, tc.want)
			}
		})
	}
}

// fdatasyncFile takes the raw path only with a P to spare; both paths sync.
func TestFdatasyncFileSyncsWithOneOrMorePs(t *testing.T) {
	// Not parallel: it sets GOMAXPROCS for the process.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	require.NoError(t, err)
	defer f.Close()
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		_, err := f.Write([]byte("record"))
		require.NoError(t, err)
		require.NoError(t, fdatasyncFile(f), "GOMAXPROCS=%d", procs)
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		require.ErrorIs(t, fdatasyncFile(w), syscall.EINVAL, "GOMAXPROCS=%d", procs)
	}
}
