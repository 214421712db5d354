package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A log rotated while serve runs (logrotate renames it, then creates a new
// one, or leaves that to the writer) or removed (an operator's rm, a tmp
// cleaner) must not take the records that follow: into the rotated file,
// where processes started since do not write and the flock does not order
// them, or into an unlinked file no one can read. The next append goes to
// the file at AUDIT_LOG_PATH, shared with a process opened after the
// rotation.
func TestAnAppendAfterTheLogIsRotatedOrRemovedGoesToTheFileAtThePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		rotate        func(t *testing.T, path string)
		wantRotatedTo []string // targets in path.1, if kept
	}{
		{
			name: "renamed, then a new file created at the path (logrotate create)",
			rotate: func(t *testing.T, path string) {
				require.NoError(t, os.Rename(path, path+".1"))
				require.NoError(t, os.WriteFile(path, nil, 0o640))
			},
			wantRotatedTo: []string{"before"},
		},
		{
			name: "renamed, and no file at the path (logrotate nocreate)",
			rotate: func(t *testing.T, path string) {
				require.NoError(t, os.Rename(path, path+".1"))
			},
			wantRotatedTo: []string{"before"},
		},
		{
			name: "removed",
			rotate: func(t *testing.T, path string) {
				require.NoError(t, os.Remove(path))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.ndjson")
			w, err := Open(path, Options{Sync: true})
			require.NoError(t, err)
			defer w.Close()
			require.NoError(t, w.Write(ctx, Record{Actor: "serve", Status: StatusStarted, Target: "before"}))

			tt.rotate(t, path)
			require.NoError(t, w.Write(ctx, Record{Actor: "serve", Status: StatusSucceeded, Target: "after"}))
			// A process started after the rotation shares the new file.
			later, err := Open(path, Options{Sync: true})
			require.NoError(t, err)
			require.NoError(t, later.Write(ctx, Record{Actor: "webhooks", Status: StatusReceived, Target: "later"}))
			require.NoError(t, later.Close())
			require.NoError(t, w.Write(ctx, Record{Actor: "serve", Status: StatusSucceeded, Target: "last"}))
			require.NoError(t, w.Healthy())
			require.NoError(t, w.Close())

			assert.Equal(t, []string{"after", "later", "last"}, targets(t, path),
				"every record written after the rotation is in AUDIT_LOG_PATH")
			if tt.wantRotatedTo != nil {
				assert.Equal(t, tt.wantRotatedTo, targets(t, path+".1"), "the rotated file keeps what was written before")
			}
		})
	}
}

// If the log's path cannot be opened any more (its directory is gone), an
// append must fail, and Healthy say why, rather than report as written a
// record that went into an unlinked file: the log fails closed.
func TestAnAppendFailsWhenTheRemovedLogCannotBeReopened(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "audit.ndjson")
	w, err := Open(path, Options{Sync: true})
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, os.RemoveAll(dir))

	err = w.Write(context.Background(), Record{Actor: "serve", Status: StatusStarted, Target: "lost"})
	require.Error(t, err, "a record in no file is not written")
	assert.Contains(t, err.Error(), path, "the error names the log")
	assert.Error(t, w.Healthy(), "readiness reports the log cannot be written")
	require.NoError(t, os.Mkdir(dir, 0o750))
	require.NoError(t, w.Write(context.Background(), Record{Actor: "serve", Status: StatusStarted, Target: "back"}),
		"once the directory is back, appends go on at the path")
	assert.Equal(t, []string{"back"}, targets(t, path))
}

func targets(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, r := range readAll(t, path) {
		out = append(out, r.Target)
	}
	return out
}
