package audit

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One huge record (writeAudit's details are not bounded by size) or batch
// must not pin its encoding buffers for the life of the process: serve aims
// at a 20 MiB RSS. Whichever way the append ends, the Writer keeps at most
// keepBuffer of each.
func TestAHugeRecordDoesNotPinItsEncodingBuffers(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 4*keepBuffer)
	huge := Record{Actor: "a", Status: StatusSucceeded, Details: map[string]any{"blob": big}}
	tests := []struct {
		name    string
		recs    []Record
		wantErr bool
	}{
		{name: "a record with huge details is written", recs: []Record{huge}},
		{name: "a huge batch is written", recs: []Record{
			{Actor: "a", Status: StatusSucceeded, Target: big[:MaxField]},
			{Actor: "a", Status: StatusSucceeded, Error: big}}},
		{name: "a batch whose huge record is followed by one that cannot be encoded is refused", recs: []Record{
			huge, {Actor: "a", Status: StatusFailed, DurationMs: math.NaN()}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := Open(filepath.Join(t.TempDir(), "audit.ndjson"), Options{})
			require.NoError(t, err)
			defer w.Close()
			err = w.WriteBatch(context.Background(), tt.recs)
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			w.mu.Lock()
			scratch, buf := w.scratch.Cap(), cap(w.buf)
			w.mu.Unlock()
			assert.LessOrEqual(t, scratch, keepBuffer, "the details encoding buffer is kept")
			assert.LessOrEqual(t, buf, keepBuffer, "the lines buffer is kept")
		})
	}
}
