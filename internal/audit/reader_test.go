package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Read must read back every record the Writer accepted: a record is not
// bounded by size (a writeAudit call's details), and a line over a reader's
// cap would stop the read there, leaving every later record unreadable.
func TestReadReadsBackARecordOfAnySizeAndTheRecordsAfterIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	blob := strings.Repeat("x", 17<<20)
	require.NoError(t, w.Write(context.Background(), Record{Actor: "a", Status: StatusSucceeded, Target: "big",
		Details: map[string]any{"blob": blob}}))
	require.NoError(t, w.Write(context.Background(), Record{Actor: "a", Status: StatusSucceeded, Target: "after"}))
	require.NoError(t, w.Close())

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var got []Record
	require.NoError(t, Read(f, func(r Record) error { got = append(got, r); return nil }))
	require.Len(t, got, 2)
	assert.Equal(t, "big", got[0].Target)
	assert.Equal(t, blob, got[0].Details["blob"], "the long line is read whole")
	assert.Equal(t, "after", got[1].Target)
}

// Read reads lines as bufio.Scanner did: empty lines are skipped but
// counted, a carriage return before the newline is dropped, and a last
// line without a newline is read.
func TestReadReadsLinesAsTheyAreWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		log     string
		want    []string
		wantErr string
	}{
		{name: "an empty log has no records", log: ""},
		{name: "empty lines are skipped", log: "\n{\"target\":\"a\"}\n\n{\"target\":\"b\"}\n", want: []string{"a", "b"}},
		{name: "a carriage return before the newline is dropped", log: "{\"target\":\"a\"}\r\n", want: []string{"a"}},
		{name: "a line of only a carriage return is empty", log: "{\"target\":\"a\"}\r\n\r\n{\"target\":\"b\"}\r\n",
			want: []string{"a", "b"}},
		{name: "a last line without a newline is read", log: "{\"target\":\"a\"}\n{\"target\":\"b\"}", want: []string{"a", "b"}},
		{name: "a broken line is reported by its number", log: "{\"target\":\"a\"}\n\n{\"tar\n", want: []string{"a"},
			wantErr: "audit log line 3"},
		{name: "a broken line past the reader's buffer is reported by its number",
			log: "{\"target\":\"a\"}\n{\"target\":\"" + strings.Repeat("y", 200<<10) + "\n", want: []string{"a"},
			wantErr: "audit log line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := Read(strings.NewReader(tt.log), func(r Record) error { got = append(got, r.Target); return nil })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
