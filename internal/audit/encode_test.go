package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stdlibLine is what encoding/json writes for r: the format appendRecord
// must reproduce byte for byte.
func stdlibLine(r Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(r)
	return buf.Bytes(), err
}

func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 12, 4, 21, 55, 48, 123456789, time.UTC)
	tests := []struct {
		name string
		rec  Record
	}{
		{"an empty record", Record{}},
		{"a started record", Record{TS: ts, Actor: "claude-code", Provider: "github", Action: "create_issue",
			Target: "acme/app", IdempotencyKey: "key:k1", Status: StatusStarted, Tool: "createTicket", Env: "sandbox", CallID: "c-1"}},
		{"a terminal record with numbers and an error", Record{TS: ts.In(time.FixedZone("x", 5*3600+1800)), Status: StatusFailed,
			Attempts: 3, DurationMs: 12.345, Error: "github: 502 <html> & \"quoted\" \\ back"}},
		{"tiny and huge durations", Record{TS: ts, DurationMs: 1e-9, Attempts: -1}},
		{"a huge duration", Record{TS: ts, DurationMs: 3e21}},
		{"control characters, line separators and invalid UTF-8", Record{TS: ts,
			Target: "a\x00b\x01\b\f\n\r\t\x7f \u2028 \u2029 é 漢 \xff\xfe end", Actor: "\xc3"}},
		{"details of several types", Record{TS: ts, Details: map[string]any{"b": 1, "a": "x<y>&z", "c": []any{true, nil, 2.5},
			"d": map[string]any{"n": json.Number("7")}}}},
		{"empty details are omitted", Record{TS: ts, Details: map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := stdlibLine(tt.rec)
			require.NoError(t, err)
			got, err := appendRecord(nil, &tt.rec, &bytes.Buffer{})
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestAppendRecordRefusesWhatEncodingJSONRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  Record
	}{
		{"a NaN duration", Record{DurationMs: math.NaN()}},
		{"an infinite duration", Record{DurationMs: math.Inf(1)}},
		{"a year past 9999", Record{TS: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"details holding a channel", Record{Details: map[string]any{"c": make(chan int)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, werr := stdlibLine(tt.rec)
			require.Error(t, werr)
			_, err := appendRecord(nil, &tt.rec, &bytes.Buffer{})
			assert.Error(t, err)
		})
	}
}

func FuzzAppendRecord(f *testing.F) {
	f.Add("claude", "github", "acme/app", "key:x", "boom", 12.5, 2, int64(1733349348123456789), "d")
	f.Add("\xff\x00", "\u2028", "<&>", "\"\\", "\b\f\n\r\t", 1e-7, -3, int64(0), "")
	f.Add("", "", "", "", "", 1e22, 0, int64(-1), "\x7f")
	f.Fuzz(func(t *testing.T, actor, provider, target, key, errText string, dur float64, attempts int, nanos int64, detail string) {
		r := Record{TS: time.Unix(0, nanos).UTC(), Actor: actor, Provider: provider, Action: "a", Target: target,
			IdempotencyKey: key, Status: StatusSucceeded, Tool: detail, Attempts: attempts, DurationMs: dur, Error: errText}
		if detail != "" {
			r.Details = map[string]any{detail: actor, "n": dur}
		}
		want, werr := stdlibLine(r)
		got, err := appendRecord(nil, &r, &bytes.Buffer{})
		if werr != nil {
			if err == nil {
				t.Fatalf("encoding/json refused (%v) but appendRecord wrote %q", werr, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("appendRecord: %v; encoding/json wrote %q", err, want)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("mismatch\nwant %q\ngot  %q", want, got)
		}
	})
}

// BenchmarkEncodeRecord compares the hand-written encoder with
// encoding/json (the baseline) on a typical terminal record.
func BenchmarkEncodeRecord(b *testing.B) {
	r := Record{TS: time.Now(), Actor: "claude-code", Provider: "github", Action: "create_issue", Target: "acme/app",
		IdempotencyKey: "auto:createTicket:8f3c2b", Status: StatusSucceeded, Tool: "createTicket", Env: "sandbox",
		CallID: "3f1c9a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6", Attempts: 1, DurationMs: 0.873}
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := stdlibLine(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendRecord", func(b *testing.B) {
		var buf []byte
		var scratch bytes.Buffer
		for b.Loop() {
			var err error
			if buf, err = appendRecord(buf[:0], &r, &scratch); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRedactRecord: redaction of a typical record (the baseline)
// against one whose target is a 4 MB invalid argument, which is cut to
// MaxField plus a margin before it is redacted (redacting it whole took about 0.5 s).
func BenchmarkRedactRecord(b *testing.B) {
	red := redact.New("Zq8mW3vK1pR7tY5nX2cB", "xoxb-0000000000-0000000000-benchtoken")
	typical := Record{Actor: "claude-code", Provider: "github", Action: "create_issue", Target: "acme/app",
		IdempotencyKey: "auto:createTicket:8f3c2b", Status: StatusSucceeded, Error: ""}
	huge := typical
	huge.Target = strings.Repeat("xox-", 1<<20)
	for _, bc := range []struct {
		name string
		rec  Record
	}{{"typical", typical}, {"4MB-target", huge}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_ = Redact(red, bc.rec)
			}
		})
	}
}

// BenchmarkAppend: the append hot path (no fsync), one started record per
// op as a tool call writes it, against the baseline of one write(2) of the
// same line to an O_APPEND file. The difference is the cross-process
// flock, the check that the path still names the open file (rotation),
// the partial-line check, encoding and redaction.
func BenchmarkAppend(b *testing.B) {
	rec := Record{Actor: "serve", Provider: "slack", Action: "post_message", Target: "C123", Status: StatusStarted,
		Tool: "sendMessage", Env: "sandbox", CallID: "3f1c9a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6", Details: map[string]any{"n": 3}}
	line, err := appendRecord(nil, &rec, &bytes.Buffer{})
	if err != nil {
		b.Fatal(err)
	}
	line = append(line, '\n')
	b.Run("raw-write", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Write(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("writer", func(b *testing.B) {
		w, err := Open(filepath.Join(b.TempDir(), "audit.ndjson"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Write(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
