package dirs

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordSyncs replaces syncDir for the test; the tests that use it do not
// run in parallel with each other, as syncDir is one variable.
func recordSyncs(t *testing.T) *[]string {
	var (
		mu    sync.Mutex
		calls []string
	)
	old := syncDir
	syncDir = func(dir string) error {
		mu.Lock()
		calls = append(calls, dir)
		mu.Unlock()
		return old(dir)
	}
	t.Cleanup(func() { syncDir = old })
	return &calls
}

// TestMkdirAllSyncsTheParentOfEveryDirectoryItCreates: a new DATA_DIR (or
// logs/ directory) whose entry was never synced can vanish in a power cut
// with every claim or audit record stored under it, though each file was
// synced. Each directory MkdirAll makes must have its parent synced after
// it is made; one that exists already needs nothing.
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
		{"an existing directory", "have", func(t *testing.T) { require.NoError(t, os.Mkdir(filepath.Join(root, "have"), 0o750)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			calls := recordSyncs(t)
			require.NoError(t, MkdirAll(filepath.Join(root, tt.path), 0o750))
			fi, err := os.Stat(filepath.Join(root, tt.path))
			require.NoError(t, err)
			assert.True(t, fi.IsDir())
			var want []string
			for _, w := range tt.want {
				want = append(want, filepath.Join(root, w))
			}
			assert.Equal(t, want, *calls)
		})
	}
}

func TestMkdirAllRefusesAFileInTheWay(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o640))
	assert.Error(t, MkdirAll(file, 0o750), "the path itself is a file")
	assert.Error(t, MkdirAll(filepath.Join(file, "sub"), 0o750), "a component is a file")
}

func TestCreatedInSyncsOnlyWhenAFileWasCreated(t *testing.T) {
	root := t.TempDir()
	calls := recordSyncs(t)
	require.NoError(t, CreatedIn(root, false))
	assert.Empty(t, *calls)
	require.NoError(t, CreatedIn(root, true))
	assert.Equal(t, []string{root}, *calls)
}
