package dirs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests replace syncDir or openDir, package variables, so they do
// not run in parallel with each other.

// recordSyncs records the directories synced; fail, when it returns an
// error for a directory, makes that sync fail instead.
func recordSyncs(t *testing.T, fail func(dir string) error) func() []string {
	var (
		mu    sync.Mutex
		calls []string
	)
	old := syncDir
	syncDir = func(dir string) error {
		if fail != nil {
			if err := fail(dir); err != nil {
				return err
			}
		}
		mu.Lock()
		calls = append(calls, dir)
		mu.Unlock()
		return old(dir)
	}
	t.Cleanup(func() { syncDir = old })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), calls...)
	}
}

// TestMkdirAllSyncsTheParentOfEveryDirectoryItCreates: a new DATA_DIR (or
// logs/ directory) whose entry was never synced can vanish in a power cut
// with every claim or audit record stored under it, though each file was
// synced. Each directory MkdirAll makes must have its parent synced after
// it is made; one that exists already has its parent synced once more (its
// maker may have died before syncing it).
func TestMkdirAllSyncsTheParentOfEveryDirectoryItCreates(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name  string
		path  string
		setup func(t *testing.T)
		want  []string
	}{
		{"one new directory", "data", nil, []string{"."}},
		{"nested new directories", "a/b/c", nil, []string{".", "a", "a/b"}},
		{"only the missing part of a path", "x/y/z", func(t *testing.T) { require.NoError(t, os.Mkdir(filepath.Join(root, "x"), 0o750)) }, []string{"x", "x/y"}},
		{"an existing directory", "have", func(t *testing.T) { require.NoError(t, os.Mkdir(filepath.Join(root, "have"), 0o750)) }, []string{"."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			calls := recordSyncs(t, nil)
			require.NoError(t, MkdirAll(filepath.Join(root, tt.path), 0o750))
			fi, err := os.Stat(filepath.Join(root, tt.path))
			require.NoError(t, err)
			assert.True(t, fi.IsDir())
			var want []string
			for _, w := range tt.want {
				want = append(want, filepath.Join(root, w))
			}
			assert.Equal(t, want, calls())
		})
	}
}

// TestASecondProcessDoesNotUseADataDirWhoseEntryIsNotYetSynced: two
// processes start on the same new DATA_DIR. A makes it and is about to sync
// the parent (or is killed right there); B, finding it made, must not go on
// to store claims under it before its entry is synced (found in review).
func TestASecondProcessDoesNotUseADataDirWhoseEntryIsNotYetSynced(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	inSync, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	calls := recordSyncs(t, func(string) error {
		if first.CompareAndSwap(false, true) { // process A stalls (or dies) before its sync
			close(inSync)
			<-release
		}
		return nil
	})
	aDone := make(chan error, 1)
	go func() { aDone <- MkdirAll(data, 0o750) }()
	<-inSync

	require.NoError(t, MkdirAll(data, 0o750), "process B")
	assert.Contains(t, calls(), root, "B returned before anyone synced the entry of %s", data)
	close(release)
	require.NoError(t, <-aDone)
}

// TestAFailedSyncIsMadeGoodAtTheNextStart: a start that made the directory
// but failed to sync its parent (EIO) refuses to start; the next start
// finds the directory and must sync the entry the first one could not
// (found in review).
func TestAFailedSyncIsMadeGoodAtTheNextStart(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	var fail atomic.Bool
	fail.Store(true)
	calls := recordSyncs(t, func(string) error {
		if fail.Load() {
			return errors.New("input/output error")
		}
		return nil
	})
	require.Error(t, MkdirAll(data, 0o750), "the first start fails")
	require.DirExists(t, data, "but the directory was made")
	fail.Store(false)
	require.NoError(t, MkdirAll(data, 0o750), "the second start")
	assert.Equal(t, []string{root}, calls())
}

func TestMkdirAllRefusesWhatIsNotADirectory(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o640))
	// A symbolic link to a directory not there (a volume not mounted):
	// os.MkdirAll refuses it, and so must MkdirAll, rather than let the
	// first file opened in it fail obscurely (found in review).
	link := filepath.Join(root, "data")
	require.NoError(t, os.Symlink(filepath.Join(root, "not-mounted", "data"), link))
	tests := []struct{ name, path, says string }{
		{"the path is a file", file, "not a directory"},
		{"a component is a file", filepath.Join(file, "sub"), ""},
		{"a dangling symbolic link", link, "symbolic link to a directory that does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := MkdirAll(tt.path, 0o750)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.says)
		})
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "real"), 0o750))
	good := filepath.Join(root, "good")
	require.NoError(t, os.Symlink(filepath.Join(root, "real"), good))
	assert.NoError(t, MkdirAll(good, 0o750), "a symbolic link to a directory is one")
}

// TestFileInSyncsTheDirectoryTheFileIsReallyIn: an audit log reached
// through a symbolic link lives in the link target's directory; that is
// the entry to make durable.
func TestFileInSyncsTheDirectoryTheFileIsReallyIn(t *testing.T) {
	root := t.TempDir()
	realDir := filepath.Join(root, "real")
	require.NoError(t, os.Mkdir(realDir, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(realDir, "audit.ndjson"), nil, 0o640))
	link := filepath.Join(root, "audit.ndjson")
	require.NoError(t, os.Symlink(filepath.Join(realDir, "audit.ndjson"), link))
	calls := recordSyncs(t, nil)
	require.NoError(t, FileIn(link))
	require.NoError(t, FileIn(filepath.Join(realDir, "audit.ndjson")))
	want, err := filepath.EvalSymlinks(realDir)
	require.NoError(t, err)
	assert.Equal(t, []string{want, want}, calls())
}

// TestAWriteOnlyDirectoryIsNotRefused: a directory this user may write but
// not read cannot be opened to be synced; starting there worked before
// saas-mcp synced directories and must still work (found in review).
func TestAWriteOnlyDirectoryIsNotRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	root := t.TempDir()
	drop := filepath.Join(root, "drop")
	require.NoError(t, os.Mkdir(drop, 0o300))
	t.Cleanup(func() { _ = os.Chmod(drop, 0o700) })
	assert.NoError(t, Sync(drop))
	assert.NoError(t, MkdirAll(filepath.Join(drop, "data"), 0o750))
}

// TestAFileSystemThatDoesNotSyncDirectoriesIsNotRefused: some FUSE and
// network mounts answer EINVAL or ENOTSUP to a directory fsync; starting
// there worked before saas-mcp synced directories (found in review).
func TestAFileSystemThatDoesNotSyncDirectoriesIsNotRefused(t *testing.T) {
	root := t.TempDir()
	for _, tt := range []struct {
		err     error
		refused bool
	}{
		{syscall.EINVAL, false},
		{syscall.ENOTSUP, false},
		{&os.PathError{Op: "sync", Path: "d", Err: syscall.EINVAL}, false},
		{syscall.EIO, true}, // a failing disk is still refused
		{syscall.ENOSPC, true},
	} {
		old := fsyncDir
		fsyncDir = func(*os.File) error { return tt.err }
		err := Sync(root)
		mkErr := MkdirAll(filepath.Join(root, tt.err.Error()), 0o750)
		fsyncDir = old
		if tt.refused {
			assert.Error(t, err, "%v", tt.err)
			assert.Error(t, mkErr, "%v", tt.err)
		} else {
			assert.NoError(t, err, "%v", tt.err)
			assert.NoError(t, mkErr, "%v", tt.err)
		}
	}
}

// TestADirectoryThatCannotBeOpenedForReadingIsNotRefused: the same
// guarantee as TestAWriteOnlyDirectoryIsNotRefused, which root (CI) must
// skip, with the open made to fail as it does for an ordinary user: a
// permission error is no reason to refuse the directory, any other error
// still is.
func TestADirectoryThatCannotBeOpenedForReadingIsNotRefused(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name, dir string
		err       error
		refused   bool
	}{
		{"permission denied", "eacces", syscall.EACCES, false},
		{"operation not permitted", "eperm", syscall.EPERM, false},
		{"an input/output error", "eio", syscall.EIO, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drop := filepath.Join(root, tt.dir)
			require.NoError(t, os.Mkdir(drop, 0o750))
			old := openDir
			openDir = func(name string) (*os.File, error) {
				if name == drop {
					return nil, &fs.PathError{Op: "open", Path: name, Err: tt.err}
				}
				return old(name)
			}
			t.Cleanup(func() { openDir = old })

			err := Sync(drop)
			errMkdir := MkdirAll(filepath.Join(drop, "data"), 0o750)
			if tt.refused {
				assert.ErrorIs(t, err, tt.err)
				assert.ErrorIs(t, errMkdir, tt.err)
				return
			}
			assert.NoError(t, err)
			assert.NoError(t, errMkdir)
			assert.DirExists(t, filepath.Join(drop, "data"))
		})
	}
}
