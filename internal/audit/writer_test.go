package audit

import (
	"bytes"
	"context"
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

func readAll(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []Record
	require.NoError(t, Read(f, func(r Record) error { out = append(out, r); return nil }))
	return out
}

func TestWriterAppendsOneLinePerRecord(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "logs", "audit.ndjson")
	w, err := Open(path, Options{Sync: true, Now: func() time.Time { return time.Unix(100, 0).UTC() }})
	require.NoError(t, err)
	require.NoError(t, w.Write(context.Background(), Record{Actor: "claude", Provider: "github", Action: "create_issue", Target: "o/r", Status: StatusStarted}))
	require.NoError(t, w.Write(context.Background(), Record{Actor: "claude", Provider: "github", Action: "create_issue", Target: "o/r", Status: StatusSucceeded, Attempts: 1}))
	require.NoError(t, w.Close())

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 2, bytes.Count(raw, []byte("\n")))
	recs := readAll(t, path)
	require.Len(t, recs, 2)
	assert.Equal(t, StatusStarted, recs[0].Status)
	assert.Equal(t, time.Unix(100, 0).UTC(), recs[0].TS)
	assert.Equal(t, 1, recs[1].Attempts)
	// The stable field names are in every line, even when empty.
	for _, f := range []string{`"ts"`, `"actor"`, `"provider"`, `"action"`, `"target"`, `"idempotencyKey"`, `"status"`} {
		assert.Contains(t, string(raw), f)
	}
}

func TestWriterRedactsEveryString(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{Redactor: redact.New("hunter2-secret")})
	require.NoError(t, err)
	require.NoError(t, w.Write(context.Background(), Record{
		Target: "hunter2-secret", Error: "401 for xoxb-1-2-3",
		Details: map[string]any{"nested": map[string]any{"k": "ghp_abc"}, "list": []any{"sk_test_x"}},
	}))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, leak := range []string{"hunter2-secret", "xoxb-1-2-3", "ghp_abc", "sk_test_x"} {
		assert.NotContains(t, string(raw), leak)
	}
	assert.Contains(t, string(raw), redact.Mask)
}

func TestOpenRepairsHalfWrittenLastLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		content   string
		wantBytes int64
		wantLines int
	}{
		{"an intact file is left alone", `{"status":"started"}` + "\n", 0, 1},
		{"a torn last line is cut off", `{"status":"started"}` + "\n" + `{"status":"succ`, int64(len(`{"status":"succ`)), 1},
		{"a file holding only a torn line is emptied", `{"sta`, 5, 0},
		{"an empty file is fine", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "audit.ndjson")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			w, err := Open(path, Options{})
			require.NoError(t, err)
			assert.Equal(t, tt.wantBytes, w.Repaired)
			require.NoError(t, w.Write(context.Background(), Record{Status: StatusSucceeded}))
			require.NoError(t, w.Close())
			got := readAll(t, path)
			if tt.wantBytes == 0 {
				assert.Len(t, got, tt.wantLines+1)
				return
			}
			// The cut's audit.repair record rides with the first append.
			require.Len(t, got, tt.wantLines+2)
			assert.Equal(t, "audit.repair", got[tt.wantLines].Action)
			assert.EqualValues(t, tt.wantBytes, got[tt.wantLines].Details["bytesRemoved"])
		})
	}
}

func TestWriterLinesNeverInterleave(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	long := strings.Repeat("x", 5000)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				assert.NoError(t, w.Write(context.Background(), Record{Target: long, Status: StatusStarted}))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Close())
	assert.Len(t, readAll(t, path), 16*20)
}

func TestWriteFailsClosedWhenTheFileCannotBeWritten(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, w.f.Close()) // simulate a file that can no longer be written
	err = w.Write(context.Background(), Record{Status: StatusStarted})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "audit log "+path, "the error names the log")
}

func TestOpenFailsOnAnUnwritablePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err := Open(filepath.Join(blocker, "audit.ndjson"), Options{})
	require.Error(t, err)
}

func TestWriteDeferredSyncsLaterOrWithTheNextRecord(t *testing.T) {
	t.Parallel()
	synced := func(w *Writer) uint64 {
		w.smu.Lock()
		defer w.smu.Unlock()
		return w.synced
	}
	tests := []struct {
		name  string
		delay time.Duration
		// then runs after the deferred record; want is what must end up synced.
		then func(t *testing.T, w *Writer)
		want uint64
	}{
		{"the timer syncs it when nothing else does", time.Millisecond, func(*testing.T, *Writer) {}, 1},
		{"the next record's sync covers it", time.Hour, func(t *testing.T, w *Writer) {
			require.NoError(t, w.Write(context.Background(), Record{Status: StatusStarted}))
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := Open(filepath.Join(t.TempDir(), "audit.ndjson"), Options{Sync: true, DeferredSync: tt.delay})
			require.NoError(t, err)
			require.NoError(t, w.WriteDeferred(context.Background(), Record{Status: StatusSucceeded}))
			tt.then(t, w)
			assert.Eventually(t, func() bool { return synced(w) == tt.want }, 5*time.Second, time.Millisecond)
			require.NoError(t, w.Close())
			assert.Len(t, readAll(t, w.Path()), int(tt.want))
		})
	}
}

func TestCloseSyncsADeferredRecord(t *testing.T) {
	t.Parallel()
	w, err := Open(filepath.Join(t.TempDir(), "audit.ndjson"), Options{Sync: true, DeferredSync: time.Hour})
	require.NoError(t, err)
	require.NoError(t, w.WriteDeferred(context.Background(), Record{Status: StatusSucceeded}))
	require.NoError(t, w.Close())
	assert.Equal(t, uint64(1), w.synced)
}

func TestWriteBatchDeferredAppendsAtOnceAndSyncsLater(t *testing.T) {
	t.Parallel()
	w, err := Open(filepath.Join(t.TempDir(), "audit.ndjson"), Options{Sync: true, DeferredSync: time.Millisecond})
	require.NoError(t, err)
	recs := []Record{{Status: StatusReceived, Target: "a"}, {Status: StatusReceived, Target: "b"}, {Status: StatusReceived, Target: "c"}}
	require.NoError(t, w.WriteBatchDeferred(context.Background(), recs))
	// In the file (page cache) before any sync: a crash of the process cannot lose them.
	got := readAll(t, w.Path())
	require.Len(t, got, 3)
	assert.Equal(t, "c", got[2].Target)
	assert.Eventually(t, func() bool {
		w.smu.Lock()
		defer w.smu.Unlock()
		return w.synced == 3
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, w.Close())
}

// TestAFieldCutToLengthNeverKeepsHalfASecret: a target or key is redacted
// before it is cut to MaxField, and a huge one is cut generously first so
// it is not redacted whole (that held the log's lock for seconds). Wherever
// a configured secret sits, around either cut, none of it is kept (found
// in review).
func TestAFieldCutToLengthNeverKeepsHalfASecret(t *testing.T) {
	t.Parallel()
	const secret = "Zq8mW3vK1pR7tY5nX2cB" // no known token shape
	red := redact.New(secret)
	pre := MaxField + red.Longest() + redact.TokenMargin
	for _, at := range []int{0, MaxField - 10, MaxField - 1, MaxField, pre - 10, pre - 1, pre, 2 * pre} {
		for _, total := range []int{at + len(secret), pre + 1000, 4 << 20} {
			if total < at+len(secret) {
				continue
			}
			s := strings.Repeat("a", at) + secret + strings.Repeat("b", total-at-len(secret))
			got := Redact(red, Record{Target: s, IdempotencyKey: s})
			for _, f := range []string{got.Target, got.IdempotencyKey} {
				assert.LessOrEqual(t, len(f), MaxField+32, "secret at %d of %d", at, total)
				for k := 4; k <= len(secret); k++ {
					if strings.Contains(f, secret[:k]) && !strings.Contains(strings.Repeat("a", at), secret[:k]) {
						t.Fatalf("secret at %d of %d: %d bytes of it kept: ...%s", at, total, k, f[max(0, len(f)-80):])
					}
				}
			}
		}
	}
}
