package audit

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memTail is a tailFile in memory whose Truncate or Sync can fail.
type memTail struct {
	data              []byte
	truncErr, syncErr error
	truncated, synced bool
}

func (m *memTail) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(b, m.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memTail) Truncate(n int64) error {
	if m.truncErr != nil {
		return m.truncErr
	}
	m.data, m.truncated = m.data[:n], true
	return nil
}

func (m *memTail) Sync() error {
	m.synced = true
	return m.syncErr
}

// A partial line cut off but not synced (the fsync failed) is reported as
// such, with the bytes cut, so the writer still records the cut and makes
// the failed fsync sticky; a truncation that failed cut nothing (review
// observation: both cases reported "nothing cut").
func TestACutWhoseSyncFailsIsStillACut(t *testing.T) {
	t.Parallel()
	whole, partial := `{"a":1}`+"\n", `{"b":`
	tests := []struct {
		name      string
		truncErr  error
		syncErr   error
		wantCut   int64
		unsynced  bool
		wantError bool
	}{
		{"cut and synced", nil, nil, int64(len(partial)), false, false},
		{"cut, the sync fails", nil, syscall.EIO, int64(len(partial)), true, true},
		{"the truncation fails", syscall.EROFS, nil, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &memTail{data: []byte(whole + partial), truncErr: tc.truncErr, syncErr: tc.syncErr}
			cut, err := cutPartialLineAt(f, int64(len(f.data)))
			assert.Equal(t, tc.wantCut, cut)
			if !tc.wantError {
				require.NoError(t, err)
				assert.Equal(t, whole, string(f.data))
				return
			}
			require.Error(t, err)
			var ue *unsyncedCutError
			assert.Equal(t, tc.unsynced, errors.As(err, &ue))
			if tc.unsynced {
				assert.ErrorIs(t, err, syscall.EIO)
				assert.True(t, bytes.Equal([]byte(whole), f.data), "the bytes are gone from the file")
			}
		})
	}
}
