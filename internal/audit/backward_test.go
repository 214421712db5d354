package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// targetsBackward reads log backward, all of it, and returns the targets.
func targetsBackward(t *testing.T, log string) ([]string, error) {
	t.Helper()
	var got []string
	err := ReadBackward(t.Context(), strings.NewReader(log), int64(len(log)), func(r Record) (bool, error) {
		got = append(got, r.Target)
		return true, nil
	})
	return got, err
}

// ReadBackward reads what Read reads, in the other order, except a last line
// cut short: that one is being appended (or was torn by a crash), and is not
// a record yet.
func TestReadBackwardReadsTheRecordsReadReadsNewestFirst(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("y", 3*backChunk+17)
	tests := []struct {
		name string
		log  string
		want []string
	}{
		{name: "an empty log has no records", log: ""},
		{name: "a log of one line has one record", log: "{\"target\":\"a\"}\n", want: []string{"a"}},
		{name: "records come newest first", log: "{\"target\":\"a\"}\n{\"target\":\"b\"}\n{\"target\":\"c\"}\n",
			want: []string{"c", "b", "a"}},
		{name: "empty lines are skipped", log: "\n{\"target\":\"a\"}\n\n\n{\"target\":\"b\"}\n", want: []string{"b", "a"}},
		{name: "a carriage return before the newline is dropped", log: "{\"target\":\"a\"}\r\n{\"target\":\"b\"}\r\n",
			want: []string{"b", "a"}},
		{name: "a line of only a carriage return is empty", log: "{\"target\":\"a\"}\r\n\r\n{\"target\":\"b\"}\r\n",
			want: []string{"b", "a"}},
		{name: "a last line without a newline is skipped", log: "{\"target\":\"a\"}\n{\"target\":\"b\"}\n{\"targ",
			want: []string{"b", "a"}},
		{name: "a last line without a newline longer than a chunk is skipped",
			log: "{\"target\":\"a\"}\n{\"target\":\"" + long, want: []string{"a"}},
		{name: "a log of one partial line has no records", log: "{\"target\":\"" + long},
		{name: "lines longer than a chunk are read whole",
			log:  "{\"target\":\"a\"}\n{\"target\":\"" + long + "\"}\n{\"target\":\"c\"}\n{\"target\":\"" + long + "x\"}\n",
			want: []string{long + "x", "c", long, "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := targetsBackward(t, tt.log)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			// What Read reads of the whole lines, reversed.
			whole := tt.log[:strings.LastIndexByte(tt.log, '\n')+1]
			var forward []string
			require.NoError(t, Read(strings.NewReader(whole), func(r Record) error { forward = append(forward, r.Target); return nil }))
			slices.Reverse(forward)
			assert.Equal(t, forward, got)
		})
	}
}

// A broken line is an error that says where it is, never a line skipped:
// a caller looking for a record must not take "not read" for "not there".
func TestReadBackwardReportsABrokenLineByItsOffset(t *testing.T) {
	t.Parallel()
	for _, broken := range []string{"{\"tar\n", "{\"target\":\"b\"} {}\n", "not json\n"} {
		log := "{\"target\":\"a\"}\n" + broken + "{\"target\":\"c\"}\n"
		got, err := targetsBackward(t, log)
		require.ErrorContains(t, err, "audit log line at byte 15", broken)
		assert.Equal(t, []string{"c"}, got, "the records after the broken line were read")
	}
}

// A reader that fails, or a log cut shorter while it is read (a rotation
// with copytruncate), is an error: nothing is read from bytes that are
// not there.
func TestReadBackwardReportsALogItCannotRead(t *testing.T) {
	t.Parallel()
	log := strings.Repeat("{\"target\":\"a\"}\n", 2*backChunk/15)
	failing := errReaderAt{errors.New("input/output error")}
	err := ReadBackward(t.Context(), failing, int64(len(log)), func(Record) (bool, error) { return true, nil })
	require.ErrorIs(t, err, failing.err)

	short := strings.NewReader(log[:backChunk])
	err = ReadBackward(t.Context(), short, int64(len(log)), func(Record) (bool, error) { return true, nil })
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = ReadBackward(ctx, strings.NewReader(log), int64(len(log)), func(Record) (bool, error) { return true, nil })
	require.ErrorIs(t, err, context.Canceled)
}

type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

// ReadBackward reads only as far back as its caller looks: finding the last
// minute's records in a large log must not read the log.
func TestReadBackwardReadsNoFurtherBackThanItIsAsked(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	line, err := json.Marshal(Record{TS: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "a", Provider: "p",
		Action: "old", Target: "t", Status: StatusSucceeded, CallID: "c"})
	require.NoError(t, err)
	log.Write(bytes.Repeat(append(line, '\n'), 200_000)) // about 30 MB
	recent := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		line, err := json.Marshal(Record{TS: recent.Add(time.Duration(i) * time.Second), Action: "recent",
			Target: fmt.Sprintf("r-%d", i), Status: StatusSucceeded})
		require.NoError(t, err)
		log.Write(append(line, '\n'))
	}
	r := &countingReaderAt{r: bytes.NewReader(log.Bytes())}
	var got []string
	err = ReadBackward(t.Context(), r, int64(log.Len()), func(rec Record) (bool, error) {
		if rec.TS.Before(recent) {
			return false, nil
		}
		got = append(got, rec.Target)
		return true, nil
	})
	require.NoError(t, err)
	assert.Len(t, got, 10)
	assert.LessOrEqual(t, r.n.Load(), int64(backChunk), "read %d bytes of a %d-byte log to find its last 10 records", r.n.Load(), log.Len())
}

// Numbers in details come back as written, every digit kept.
func TestReadBackwardKeepsTheDigitsOfANumber(t *testing.T) {
	t.Parallel()
	log := "{\"target\":\"a\",\"details\":{\"n\":12345678901234567891,\"f\":1.50}}\n"
	var got Record
	require.NoError(t, ReadBackward(t.Context(), strings.NewReader(log), int64(len(log)), func(r Record) (bool, error) {
		got = r
		return false, nil
	}))
	assert.Equal(t, json.Number("12345678901234567891"), got.Details["n"])
	assert.Equal(t, json.Number("1.50"), got.Details["f"])
}

// A Writer reads back the log its path names, newest first, its records
// as written; a log that is gone reads as an empty one.
func TestAWriterReadsBackTheLogItsPathNames(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	ts := time.Date(2024, 1, 1, 0, 0, 0, 123456789, time.UTC)
	first := Record{TS: ts, Actor: "a", Provider: "jira", Action: "close", Target: "J-1", IdempotencyKey: "k",
		Status: StatusSucceeded, Env: "sandbox", Details: map[string]any{"n": json.Number("7")}}
	require.NoError(t, w.Write(ctx, first))
	require.NoError(t, w.Write(ctx, Record{TS: ts.Add(time.Second), Target: "J-2", Status: StatusSucceeded}))

	var got []Record
	require.NoError(t, w.ReadBack(ctx, func(r Record) (bool, error) { got = append(got, r); return true, nil }))
	require.Len(t, got, 2)
	assert.Equal(t, "J-2", got[0].Target)
	assert.Equal(t, first, got[1])

	require.NoError(t, os.Rename(path, path+".1"))
	got = nil
	require.NoError(t, w.ReadBack(ctx, func(r Record) (bool, error) { got = append(got, r); return true, nil }))
	assert.Empty(t, got, "the path names no log since the rotation")
}
