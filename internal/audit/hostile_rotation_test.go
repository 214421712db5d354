package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// reviewLines returns the lines of the file at path, each checked to be one
// valid JSON object.
func reviewLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, len(b) == 0 || b[len(b)-1] == '\n', "the log ends with a newline")
	var out [][]byte
	for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		require.True(t, json.Valid(l), "line is valid JSON: %q", l)
		out = append(out, l)
	}
	return out
}

// reviewKeyCount counts the member names of the top-level object at raw,
// duplicates included (encoding/json would keep only the last).
func reviewKeyCount(t *testing.T, raw []byte) (n int, names map[string]int) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	names = map[string]int{}
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		names[k.(string)]++
		n++
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return n, names
}

// Hostile strings in every free field: each line stays one valid JSON
// object, with no raw U+2028/U+2029, and reads back.
func TestHostileStringsKeepEveryLineOneJSONObject(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	hostile := "a\x00b\u2028c\u2029d\xff\xfe\xed\xa0\x80e\"\\\n\r\t\x1f</script>&" + strings.Repeat("z", 1<<20)
	rec := Record{Actor: hostile, Provider: hostile, Action: hostile, Target: hostile, IdempotencyKey: hostile,
		Status: hostile, Tool: hostile, Env: hostile, CallID: hostile, Error: hostile,
		Details: map[string]any{hostile: hostile, "n": []any{hostile, map[string]any{"\u2028": "\x00"}}}}
	require.NoError(t, w.Write(context.Background(), rec))
	lines := reviewLines(t, path)
	require.Len(t, lines, 1)
	assert.NotContains(t, string(lines[0]), "\u2028")
	assert.NotContains(t, string(lines[0]), "\u2029")
	var got Record
	require.NoError(t, json.Unmarshal(lines[0], &got))
	assert.Len(t, got.Details, 2)
}

// A record's details keep every value (README: keys that collide after
// redaction each keep theirs), also for keys that differ only in invalid
// UTF-8, which the line spells as U+FFFD (found in review: the object then
// held one name several times, and a reader keeps one value).
func TestDetailsKeysThatDifferOnlyInInvalidUTF8KeepEveryValue(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	details := map[string]any{"k\xff": "first", "k\xfe": "second", "k\ufffd": "third"}
	require.NoError(t, w.Write(context.Background(), Record{Actor: "a", Action: "x", Status: StatusSucceeded, Details: details}))
	lines := reviewLines(t, path)
	require.Len(t, lines, 1)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(lines[0], &top))
	n, names := reviewKeyCount(t, top["details"])
	for k, c := range names {
		assert.Equal(t, 1, c, "details member %q appears %d times in one object: %s", k, c, top["details"])
	}
	assert.Equal(t, 3, n)
	var got Record
	require.NoError(t, json.Unmarshal(lines[0], &got))
	assert.Len(t, got.Details, 3, "every value given is in the log: %s", lines[0])
}

// Keys that collide once redacted keep every value, and the names do not
// depend on the map's order.
func TestRedactedKeyCollisionsKeepEveryValueDeterministically(t *testing.T) {
	t.Parallel()
	red := redact.New("supersecretvalue-0123456789")
	in := map[string]any{
		"supersecretvalue-0123456789":   1,
		"x-supersecretvalue-0123456789": 2,
		redact.Mask:                     3,
		redact.Mask + "#2":              4,
	}
	first := Redact(red, Record{Details: in})
	for range 20 {
		again := Redact(red, Record{Details: in})
		assert.Equal(t, first.Details, again.Details)
	}
	assert.Len(t, first.Details, 4)
	b, err := json.Marshal(first.Details)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "supersecretvalue")
}

// The log's directory replaced by a symlink to another directory: the next
// append goes to the file the path names now.
func TestDirectoryReplacedBySymlinkSendsRecordsToThePath(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	path := filepath.Join(dir, "audit.ndjson")
	w, err := Open(path, Options{Sync: true})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Target: "before", Status: StatusStarted}))
	require.NoError(t, os.Rename(dir, filepath.Join(root, "logs.old")))
	other := filepath.Join(root, "elsewhere")
	require.NoError(t, os.Mkdir(other, 0o750))
	require.NoError(t, os.Symlink(other, dir))
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Target: "after", Status: StatusSucceeded}))
	lines := reviewLines(t, filepath.Join(other, "audit.ndjson"))
	require.Len(t, lines, 1)
	assert.Contains(t, string(lines[0]), `"target":"after"`)
	var seen []string
	require.NoError(t, w.ReadBack(ctx, func(r Record) (bool, error) { seen = append(seen, r.Target); return true, nil }))
	assert.Equal(t, []string{"after"}, seen)
}

// logrotate's copytruncate: the file is copied, then truncated in place.
// Later records land at the start of the same file, as whole lines.
func TestCopytruncateKeepsLaterRecordsWhole(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{Sync: true})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Target: "before", Status: StatusStarted}))
	require.NoError(t, os.Truncate(path, 0))
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Target: "after", Status: StatusSucceeded}))
	lines := reviewLines(t, path)
	require.Len(t, lines, 1)
	assert.Contains(t, string(lines[0]), `"target":"after"`)
}

// A process killed mid-write leaves a partial last line; then logrotate
// renames the log before any append. The surviving writer, holding the old
// file's flock when it finds the path moved, cuts the partial line there
// and records the repair in the new file (README: a partial line is cut,
// with an audit.repair record, before the next append). Found in review:
// the rotated file kept a broken last line for good, and Read of it failed.
func TestAPartialLineInARotatedLogIsCut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Target: "first", Status: StatusStarted}))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte(`{"ts":"2026-01-01T00:00:00Z","actor":"webhook:gi`))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Target: "second", Status: StatusSucceeded}))

	rotated, err := os.ReadFile(path + ".1")
	require.NoError(t, err)
	assert.Equal(t, byte('\n'), rotated[len(rotated)-1], "the rotated log ends with a whole line:\n%s", rotated)
	err = Read(bytes.NewReader(rotated), func(Record) error { return nil })
	assert.NoError(t, err, "the rotated log reads back")
	// The cut is explained somewhere.
	cur, err := os.ReadFile(path)
	require.NoError(t, err)
	all := string(rotated) + string(cur)
	assert.Contains(t, all, `"action":"audit.repair"`, "the cut of the killed process's line is recorded")
}

// Several writers (as several processes, each with its own file
// description and flock) appending at once, with rename rotations in
// between: every accepted record is in exactly one of the files, whole.
func TestConcurrentWritersAcrossRotationsLoseNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.ndjson")
	const writers, each = 4, 300
	ws := make([]*Writer, writers)
	for i := range ws {
		w, err := Open(path, Options{})
		require.NoError(t, err)
		ws[i] = w
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	rotated := 0
	var rmu sync.Mutex
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rmu.Lock()
			if os.Rename(path, filepath.Join(dir, "rot."+strings.Repeat("x", i%3)+string(rune('a'+i%26))+"."+itoa(i))) == nil {
				rotated++
			}
			rmu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var amu sync.Mutex
	accepted := map[string]bool{}
	big := strings.Repeat("B", 200<<10)
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				tgt := "w" + itoa(i) + "-" + itoa(j)
				d := map[string]any(nil)
				if j%50 == 0 {
					d = map[string]any{"big": big}
				}
				err := w.Write(ctx, Record{Actor: "a", Target: tgt, Status: StatusSucceeded, Details: d})
				amu.Lock()
				accepted[tgt] = err == nil
				amu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	for _, w := range ws {
		require.NoError(t, w.Close())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range entries {
		for _, l := range reviewLines(t, filepath.Join(dir, e.Name())) {
			var r Record
			require.NoError(t, json.Unmarshal(l, &r))
			seen[r.Target]++
		}
	}
	for i := range writers {
		for j := range each {
			tgt := "w" + itoa(i) + "-" + itoa(j)
			want := 0
			if accepted[tgt] {
				want = 1
			}
			assert.Equal(t, want, seen[tgt], tgt)
		}
	}
	refused := 0
	for _, ok := range accepted {
		if !ok {
			refused++
		}
	}
	t.Logf("rotations: %d, files: %d, refused: %d", rotated, len(entries), refused)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// Under Sync, an fsync failing in the background (the deferred fsync of a
// started record) refuses every later append.
func TestADeferredFsyncFailureRefusesLaterAppends(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	var mu sync.Mutex
	fail := false
	failed := errors.New("EIO")
	opts := Options{Sync: true}
	opts.syncFile = func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return failed
		}
		return f.Sync()
	}
	w, err := Open(path, opts)
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	mu.Lock()
	fail = true
	mu.Unlock()
	require.NoError(t, w.WriteDeferred(ctx, Record{Actor: "a", Status: StatusStarted}))
	require.Eventually(t, func() bool { return w.Healthy() != nil }, 2e9, 5e6)
	mu.Lock()
	fail = false
	mu.Unlock()
	assert.ErrorIs(t, w.WriteDeferred(ctx, Record{Actor: "a", Status: StatusStarted}), failed)
	assert.ErrorIs(t, w.Write(ctx, Record{Actor: "a", Status: StatusStarted}), failed)
	assert.ErrorIs(t, w.RecordRepair(ctx), failed)
	assert.Len(t, reviewLines(t, path), 1)
}

// Under Sync, the fsync of the old file at a reopen (rotation) failing
// refuses every later append, to the new file too.
func TestAFailedFsyncAtReopenIsSticky(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	var mu sync.Mutex
	fail := false
	opts := Options{Sync: true}
	opts.syncFile = func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return errors.New("EIO")
		}
		return f.Sync()
	}
	w, err := Open(path, opts)
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	require.NoError(t, w.Write(ctx, Record{Actor: "a", Status: StatusStarted}))
	require.NoError(t, os.Rename(path, path+".1"))
	mu.Lock()
	fail = true
	mu.Unlock()
	assert.Error(t, w.WriteDeferred(ctx, Record{Actor: "a", Status: StatusStarted}))
	mu.Lock()
	fail = false
	mu.Unlock()
	assert.Error(t, w.WriteDeferred(ctx, Record{Actor: "a", Status: StatusStarted}))
	_, err = os.Stat(path)
	if err == nil {
		assert.Empty(t, reviewLines(t, path))
	}
}
