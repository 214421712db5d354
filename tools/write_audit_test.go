package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// claimAt is when the calls of these tests claim their key.
var claimAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// auditArgs are a writeAudit call's arguments, with details that are
// written redacted and numbers the log keeps to the digit.
func auditArgs(key string) map[string]any {
	args := map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1", "status": "succeeded",
		"details": map[string]any{"incident": json.Number("12345678901234567891"), "ratio": json.Number("1.50"),
			"note": "<acked> & paged with my-secret-value"}}
	if key != "" {
		args["idempotencyKey"] = key
	}
	return args
}

// startedRecord is the started record the audit middleware writes for c
// before its key is claimed.
func startedRecord(c *chain.Call, ts time.Time) audit.Record {
	return audit.Record{TS: ts, Actor: c.Actor, Provider: "audit", Action: "write_audit", Target: c.String("target"),
		IdempotencyKey: c.Key, Status: audit.StatusStarted, Tool: "writeAudit", Env: c.Env, CallID: c.CallID}
}

// openAuditLog opens a writer on a new log.
func openAuditLog(t *testing.T, red *redact.Redactor) *audit.Writer {
	t.Helper()
	w, err := audit.Open(filepath.Join(t.TempDir(), "audit.ndjson"), audit.Options{Redactor: red})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// A writeAudit whose key was left in doubt after the record was written
// (serve killed before the key was committed) is retried: the retry finds
// the record in the log and answers it exactly as the first call did, so
// the record is not written a second time.
func TestWriteAuditFindsTheRecordAnAttemptInDoubtWroteAndAnswersAsItDid(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "ack-once"} {
		t.Run("key "+key, func(t *testing.T) {
			t.Parallel()
			red := redact.New("my-secret-value")
			w := openAuditLog(t, red)
			now := claimAt.Add(3 * time.Millisecond)
			def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return now }, Redactor: red})
			require.NoError(t, err)
			ctx := context.Background()

			first := chain.NewCall(def.Chain, auditArgs(key), "claude", "sandbox", "c1")
			require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
			v, err := def.Chain.Run(ctx, first)
			require.NoError(t, err)
			firstAnswer, err := json.Marshal(v)
			require.NoError(t, err)
			// The call's own records, after its record: not the one written.
			term := startedRecord(first, now.Add(time.Millisecond))
			term.Status = audit.StatusFailed
			require.NoError(t, w.Write(ctx, term))

			// The retry, from another client after a restart.
			retry := chain.NewCall(def.Chain, auditArgs(key), "other-client", "sandbox", "c2")
			require.NoError(t, w.Write(ctx, startedRecord(retry, now.Add(time.Second))))
			got, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
			require.NoError(t, err)
			require.True(t, found, "the record the first attempt wrote is found")
			answer, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(firstAnswer), string(answer), "the retry answers as the first call did")
			assert.Equal(t, string(firstAnswer), string(answer), "byte for byte")
			assert.NotContains(t, string(answer), "my-secret-value")
		})
	}
}

// The same record written under the key before the claim is an earlier
// call's, whose key has expired (the same call acts again then), not an
// effect of this one; nor is a record that differs from this call's, or
// one of a tool call's own records. Not finding the record in a log that
// reaches back to the claim means it was not written: the call writes it.
func TestWriteAuditDoesNotTakeAnotherRecordForTheOneItsAttemptWrote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	after := claimAt.Add(time.Millisecond)
	tests := []struct {
		name   string
		at     time.Time           // when the other record was written
		change func(*audit.Record) // how it differs from this call's
	}{
		{"the same record written before the claim", claimAt.Add(-30 * time.Second), func(*audit.Record) {}},
		{"another target", after, func(r *audit.Record) { r.Target = "P2" }},
		{"details that differ in a number's last digit", after, func(r *audit.Record) {
			r.Details = maps.Clone(r.Details)
			r.Details["incident"] = json.Number("12345678901234567890")
		}},
		{"a target in another letter case", after, func(r *audit.Record) { r.Target = "p1" }},
		{"another status", after, func(r *audit.Record) { r.Status = audit.StatusFailed }},
		{"details with one more key", after, func(r *audit.Record) {
			r.Details = maps.Clone(r.Details)
			r.Details["pages"] = []any{"a", "b"}
		}},
		{"another key", after, func(r *audit.Record) { r.IdempotencyKey = "ack-twice" }},
		{"the call's own terminal record", after, func(r *audit.Record) { r.Tool, r.CallID = "writeAudit", "c1" }},
	}
	for _, tt := range tests {
		for _, reach := range []string{"a record from before the margin", "the call's started record"} {
			t.Run(tt.name+", reaching back by "+reach, func(t *testing.T) {
				t.Parallel()
				w := openAuditLog(t, nil)
				def, err := WriteAudit(Deps{Audit: w, Now: time.Now})
				require.NoError(t, err)
				c := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c1")
				if reach == "a record from before the margin" {
					require.NoError(t, w.Write(ctx, audit.Record{TS: claimAt.Add(-time.Hour), Status: audit.StatusSucceeded}))
				} else {
					require.NoError(t, w.Write(ctx, startedRecord(c, claimAt.Add(-time.Minute/2))))
				}
				other := writtenRecord(c, tt.at)
				tt.change(&other)
				require.NoError(t, w.Write(ctx, other))

				got, found, err := def.Chain.Reconcile(ctx, c, claimAt)
				require.NoError(t, err)
				assert.False(t, found, "found %+v", got)
			})
		}
	}
}

// A log that holds nothing from before the claim (rotated or cut since the
// first attempt) cannot say whether the record was written: the record may
// be in the file it was rotated to. The key stays blocked, never "not found".
func TestWriteAuditCannotLookForItsRecordInALogRotatedSinceTheClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := openAuditLog(t, nil)
	def, err := WriteAudit(Deps{Audit: w, Now: time.Now})
	require.NoError(t, err)
	c := chain.NewCall(def.Chain, auditArgs(""), "claude", "sandbox", "c1")
	require.NoError(t, w.Write(ctx, startedRecord(c, claimAt.Add(-time.Millisecond))))
	require.NoError(t, w.Write(ctx, writtenRecord(c, claimAt.Add(time.Millisecond))))

	require.NoError(t, os.Rename(w.Path(), w.Path()+".1"))
	_, found, err := def.Chain.Reconcile(ctx, c, claimAt)
	require.ErrorIs(t, err, chain.ErrCannotReconcile, "no log at the path")
	assert.False(t, found)

	// Records since the rotation, all after the claim.
	require.NoError(t, w.Write(ctx, audit.Record{TS: claimAt.Add(time.Minute), Action: "idempotency.in_doubt",
		IdempotencyKey: c.Key, Status: audit.StatusInDoubt}))
	require.NoError(t, w.Write(ctx, startedRecord(c, claimAt.Add(2*time.Minute))))
	_, found, err = def.Chain.Reconcile(ctx, c, claimAt)
	require.ErrorIs(t, err, chain.ErrCannotReconcile, "a log that starts after the claim")
	assert.False(t, found)
	assert.Contains(t, err.Error(), "rotated")
}

// A log that cannot be read is a check that failed, never "not found": the
// key stays in doubt and a retry looks again. A sink that cannot be read
// back at all cannot be looked in, which the tool says before it acts.
func TestWriteAuditSaysWhenItCannotReadTheLogForItsRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	failing := errors.New("input/output error")
	def, err := WriteAudit(Deps{Audit: &failingLog{err: failing}, Now: time.Now})
	require.NoError(t, err)
	c := chain.NewCall(def.Chain, auditArgs(""), "claude", "sandbox", "c1")
	require.NoError(t, def.Chain.CanReconcile(c))
	_, found, err := def.Chain.Reconcile(ctx, c, claimAt)
	require.ErrorIs(t, err, failing)
	assert.NotErrorIs(t, err, chain.ErrCannotReconcile, "a retry can look again")
	assert.False(t, found)

	// A broken line among the records looked at.
	log := &memLog{}
	log.add(t, startedRecord(c, claimAt.Add(-time.Millisecond)))
	log.data = append(log.data, "{\"ts\":\"2025-03-01T12:00:01Z\",\"tar\n"...)
	def, err = WriteAudit(Deps{Audit: log, Now: time.Now})
	require.NoError(t, err)
	c = chain.NewCall(def.Chain, auditArgs(""), "claude", "sandbox", "c1")
	_, found, err = def.Chain.Reconcile(ctx, c, claimAt)
	require.ErrorContains(t, err, "audit log line at byte")
	assert.False(t, found)

	def, err = WriteAudit(Deps{Audit: &sink{}, Now: time.Now})
	require.NoError(t, err)
	c = chain.NewCall(def.Chain, auditArgs(""), "claude", "sandbox", "c1")
	require.ErrorIs(t, def.Chain.CanReconcile(c), chain.ErrCannotReconcile)
	_, found, err = def.Chain.Reconcile(ctx, c, claimAt)
	require.ErrorIs(t, err, chain.ErrCannotReconcile)
	assert.False(t, found)
}

// The audit log grows for as long as serve runs: looking for the record
// reads the log back from its end to a little before the claim, not the
// whole file, whether the record is there or not.
func TestWriteAuditReadsOnlyTheEndOfALargeLogForItsRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old, err := json.Marshal(audit.Record{TS: claimAt.Add(-time.Hour), Actor: "claude", Provider: "slack",
		Action: "post_message", Target: "#general", IdempotencyKey: "auto:x", Status: audit.StatusSucceeded,
		Tool: "sendMessage", Env: "sandbox", CallID: "c0"})
	require.NoError(t, err)
	for _, written := range []bool{true, false} {
		log := &memLog{data: bytes.Repeat(append(old, '\n'), 200_000)} // about 50 MB
		def, err := WriteAudit(Deps{Audit: log, Now: func() time.Time { return claimAt.Add(time.Millisecond) }})
		require.NoError(t, err)
		c := chain.NewCall(def.Chain, auditArgs("ack-once"), "claude", "sandbox", "c1")
		log.add(t, startedRecord(c, claimAt.Add(-time.Millisecond)))
		if written {
			_, err := def.Chain.Run(ctx, c)
			require.NoError(t, err)
		}
		log.add(t, audit.Record{TS: claimAt.Add(time.Minute), Action: "idempotency.in_doubt", Status: audit.StatusInDoubt})

		_, found, err := def.Chain.Reconcile(ctx, c, claimAt)
		require.NoError(t, err)
		assert.Equal(t, written, found)
		assert.LessOrEqual(t, log.read.Load(), int64(64<<10), "read %d bytes of a %d-byte log", log.read.Load(), len(log.data))
	}
}

// memLog is an audit log in memory that counts the bytes read back.
type memLog struct {
	mu   sync.Mutex
	data []byte
	read atomic.Int64
}

func (l *memLog) add(t *testing.T, r audit.Record) {
	t.Helper()
	require.NoError(t, l.Write(context.Background(), r))
}

func (l *memLog) Write(_ context.Context, r audit.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.data = append(append(l.data, b...), '\n')
	return nil
}

func (l *memLog) ReadBack(ctx context.Context, fn func(audit.Record) (bool, error)) error {
	l.mu.Lock()
	data := l.data
	l.mu.Unlock()
	return audit.ReadBackward(ctx, countingReaderAt{bytes.NewReader(data), &l.read}, int64(len(data)), fn)
}

type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// failingLog is an audit log that cannot be read back.
type failingLog struct {
	sink
	err error
}

func (l *failingLog) ReadBack(context.Context, func(audit.Record) (bool, error)) error { return l.err }

// A retry of a writeAudit in doubt that spells an argument another way
// the key's hash takes for the same (1.5 for 1.50, a decomposed é for a
// precomposed one, the default status spelled out, empty details) is the
// same call: it claims the same key and is reconciled, and finds the record
// the first attempt wrote, so it does not write a second one for one key.
func TestWriteAuditRetrySpelledAnotherWayFindsTheRecordItsFirstAttemptWrote(t *testing.T) {
	t.Parallel()
	base := func() map[string]any {
		return map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1", "idempotencyKey": "ack-once",
			"details": map[string]any{"ratio": json.Number("1.50")}}
	}
	tests := []struct {
		name         string
		first, retry func(map[string]any)
	}{
		{"a number spelled 1.50, then 1.5", func(map[string]any) {}, func(a map[string]any) {
			a["details"] = map[string]any{"ratio": json.Number("1.5")}
		}},
		{"a target precomposed, then decomposed", func(a map[string]any) { a["target"] = "caf\u00e9" },
			func(a map[string]any) { a["target"] = "cafe\u0301" }},
		{"the default status left out, then spelled out", func(map[string]any) {}, func(a map[string]any) {
			a["status"] = "succeeded"
		}},
		{"a details key precomposed, then decomposed", func(a map[string]any) {
			a["details"] = map[string]any{"caf\u00e9": "open"}
		}, func(a map[string]any) { a["details"] = map[string]any{"cafe\u0301": "open"} }},
		{"details left out, then empty", func(a map[string]any) { delete(a, "details") },
			func(a map[string]any) { a["details"] = map[string]any{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			red := redact.New()
			w := openAuditLog(t, red)
			now := claimAt.Add(3 * time.Millisecond)
			def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return now }, Redactor: red})
			require.NoError(t, err)
			ctx := context.Background()

			firstArgs, retryArgs := base(), base()
			tc.first(firstArgs)
			tc.first(retryArgs)
			tc.retry(retryArgs)
			h1, err := def.Chain.Form.ArgsHash("writeAudit", firstArgs)
			require.NoError(t, err)
			h2, err := def.Chain.Form.ArgsHash("writeAudit", retryArgs)
			require.NoError(t, err)
			require.Equal(t, h1, h2, "the key takes both spellings for one call, so the retry is reconciled")
			_, err = idempotency.Policy{}.NewClaim("writeAudit", "ack-once", h2, "", "o", claimAt)
			require.NoError(t, err)

			first := chain.NewCall(def.Chain, firstArgs, "claude", "sandbox", "c1")
			require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
			_, err = def.Chain.Run(ctx, first)
			require.NoError(t, err)

			retry := chain.NewCall(def.Chain, retryArgs, "claude", "sandbox", "c2")
			require.NoError(t, w.Write(ctx, startedRecord(retry, now.Add(time.Second))))
			_, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
			require.NoError(t, err)
			assert.True(t, found, "the record the first attempt wrote under the key is found, not written again")
		})
	}
}
