package audit

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A FIFO or a device cannot be fsynced: under Sync, the first call's sync
// would fail and every later call be refused. Open refuses it at once,
// naming the way out; without Sync it opens (review observation).
func TestASyncedAuditLogMustBeARegularFile(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "audit.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	tests := []struct {
		name    string
		path    string
		sync    bool
		wantErr string
	}{
		{"a FIFO, synced", fifo, true, "AUDIT_SYNC=never"},
		{"/dev/null, synced", "/dev/null", true, "not a regular file"},
		{"a FIFO, unsynced", fifo, false, ""},
		{"a regular file, synced", filepath.Join(t.TempDir(), "a.ndjson"), true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Open(tc.path, Options{Sync: tc.sync})
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, w.Close())
		})
	}
}
