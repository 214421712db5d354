package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
)

// WrittenAudit is writeAudit's structured result: the record written.
type WrittenAudit struct {
	audit.Record
	Replayed bool `json:"replayed"`
}

// WriteAudit appends an audit record for an action taken outside saas-mcp,
// so the trail explains it too.
func WriteAudit(d Deps) (Definition, error) {
	t := &chain.Tool{
		Provider: "audit",
		Action:   "write_audit",
		Target:   arg("target"),
		// It appends to saas-mcp's own audit log: READ_ONLY lets it run.
		ReadOnly: true,
		Run: func(ctx context.Context, c *chain.Call) (any, error) {
			if details, _ := c.Args["details"].(map[string]any); details != nil {
				// JSON Schema bounds only how many keys; one record must
				// stay a line a reader can take, and not grow the log by
				// megabytes per call.
				if n, ok := jsonSize(details); ok && n > maxDetailsBytes {
					return nil, chain.Errorf(chain.KindInvalid, "invalid arguments for writeAudit: details: %d bytes of JSON, at most %d", n, maxDetailsBytes)
				}
			}
			// Never stamped before the claim: a retry looks for the
			// record among those stamped at or after it, and a wall clock
			// stepped back between the claim and here would hide it
			// (found in review).
			ts := d.Now()
			if ts.Before(c.ClaimedAt) {
				ts = c.ClaimedAt
			}
			rec := writtenRecord(c, ts)
			if err := d.Audit.Write(ctx, rec); err != nil {
				return nil, chain.Internal("audit log cannot be written", err)
			}
			c.SetDetail("wrote", recordNamed(rec))
			// What the log holds is redacted; show the agent the same.
			return WrittenAudit{Record: audit.Redact(d.Redactor, rec)}, nil
		},
		// A call killed after the record was written and before its key
		// was committed leaves the key in doubt; writing again on the
		// retry would log one external action twice. The log itself says
		// whether the record is there.
		Reconcile: func(ctx context.Context, c *chain.Call, since time.Time) (any, bool, error) {
			log, ok := d.Audit.(audit.BackReader)
			if !ok {
				return nil, false, chain.CannotReconcile(errAuditNotReadable)
			}
			want := audit.Redact(d.Redactor, writtenRecord(c, since))
			rec, found, err := findWritten(ctx, log, want, c.Tool, since)
			if err != nil || !found {
				return nil, found, err
			}
			// The first attempt's terminal record, which would have named
			// it, was never written: this call's names it instead.
			c.SetDetail("found", recordNamed(rec))
			return WrittenAudit{Record: rec}, true, nil
		},
		CanReconcile: func(*chain.Call) error {
			if _, ok := d.Audit.(audit.BackReader); !ok {
				return chain.CannotReconcile(errAuditNotReadable)
			}
			return nil
		},
	}
	return define("writeAudit",
		"Append a record to the audit log for an action taken outside this server (who did what, where, outcome).",
		hints{title: "Write audit record", idempotent: true}, t,
		// Empty details write the record no details do: the log leaves an
		// empty details object out. (An empty status is refused by the
		// schema; a left-out one is its default, "succeeded", above.)
		"details")
}

// maxDetailsBytes bounds writeAudit's details, as JSON.
const maxDetailsBytes = 64 << 10

// writtenRecord is the record writeAudit writes for c, stamped ts, before
// the audit writer redacts it.
func writtenRecord(c *chain.Call, ts time.Time) audit.Record {
	status := c.String("status")
	if status == "" {
		status = audit.StatusSucceeded
	}
	details, _ := c.Args["details"].(map[string]any)
	return audit.Record{
		TS:             ts.UTC(),
		Actor:          c.Actor,
		Provider:       c.String("provider"),
		Action:         c.String("action"),
		Target:         c.String("target"),
		IdempotencyKey: displayKey(c),
		Status:         status,
		Env:            c.Env,
		// No callId: the record is the agent's account of another
		// action, not an outcome of this call, which has its own
		// started and terminal records. That terminal record names
		// the record written, in its details.
		Details: details,
	}
}

// recordNamed names a record writeAudit wrote, for the details of a
// call's terminal record (the written record has no callId to link them).
func recordNamed(rec audit.Record) map[string]any {
	return map[string]any{"ts": rec.TS.Format(time.RFC3339Nano), "provider": rec.Provider,
		"action": rec.Action, "target": rec.Target, "status": rec.Status}
}

// maxPastStop is how many records stamped before findWritten's stop it
// reads on, for a log whose stamps a clock step has put out of order: a
// hundred records (about 24 KB) cover the retry's own records and a burst
// of others, and keep a check in a large log to the end of the file.
const maxPastStop = 100

// maxPastStopStepped is maxPastStop once a started record of this key is
// seen stamped before the stop (this call's own, when the clock stepped
// back since the claim): everything other processes sharing the log wrote since
// the step is stamped before the claim too, and stands between the retry
// and the record (found in review: with 150 of them a hundred did not
// reach it, and the record was written again). Ten thousand records, about
// 2.4 MB, read only then. More than that is a limit (README).
const maxPastStopStepped = 10000

// reconcileMargin is how far before a claim findWritten reads the log. A
// record is stamped before it is appended, and an append may wait for the
// log's flock (up to five seconds) behind other writers, so records are in
// the log in about, not exactly, the order of their stamps.
const reconcileMargin = time.Minute

var (
	errAuditNotReadable = errors.New("this server's audit sink cannot be read back")
	errAuditRotated     = errors.New("the audit log (AUDIT_LOG_PATH) holds no record from before the call's claim: " +
		"it was rotated or cut since, and the record an earlier attempt may have written is not there to look for")
)

// findWritten looks for want (a redacted writeAudit record; its stamp and
// actor aside) in the log, newest record first, among those an attempt of
// the call under the claim made at since can have written: stamped at or
// after since. An earlier call whose key has expired wrote the same record
// before it, and is not this call's effect. Records are compared under
// tool's call form (see sameWritten).
//
// Not finding the record proves it was not written only when the log
// reaches back to the claim: when it holds a record stamped well before it,
// or the started record of a tool call with this key, which is appended
// before the key is claimed. A log rotated or cut since does not, and then
// the record cannot be looked for. A log that cannot be read is an error,
// never "not found": the key stays in doubt.
func findWritten(ctx context.Context, log audit.BackReader, want audit.Record, tool *chain.Tool, since time.Time) (audit.Record, bool, error) {
	wantHash, err := writtenHash(tool, want)
	if err != nil {
		return audit.Record{}, false, fmt.Errorf("hash the writeAudit record to look for: %w", err)
	}
	var (
		got              audit.Record
		found, reachBack bool
		pastStop         int
		limit            = maxPastStop
	)
	stop := since.Add(-reconcileMargin)
	err = log.ReadBack(ctx, func(r audit.Record) (bool, error) {
		switch {
		case r.TS.Before(stop):
			// The log reaches back. Records are in about stamp order, but
			// a wall clock stepped back more than the margin stamps new
			// records (this retry's started record, say) before the
			// claim: read on a while rather than stop at the first (found
			// in review: the record was written again).
			reachBack = true
			if r.Tool == tool.Name && r.Status == audit.StatusStarted && r.IdempotencyKey == want.IdempotencyKey {
				limit = maxPastStopStepped // a started record of this key before the claim: the clock stepped back (or an earlier life: reading on costs only time)
			}
			pastStop++
			return pastStop < limit, nil
		case !r.TS.Before(since):
			same, err := sameWritten(tool, r, want, wantHash)
			if err != nil || same {
				got, found = r, same
				return false, err
			}
		case r.Tool == tool.Name && r.Status == audit.StatusStarted && r.IdempotencyKey == want.IdempotencyKey:
			reachBack = true
		}
		return true, nil
	})
	switch {
	case err != nil:
		return audit.Record{}, false, fmt.Errorf("look in the audit log for the record an earlier writeAudit call may have written: %w", err)
	case found:
		return got, true, nil
	case !reachBack:
		return audit.Record{}, false, chain.CannotReconcile(errAuditRotated)
	}
	return audit.Record{}, false, nil
}

// sameWritten reports whether r is the record want describes, as
// writeAudit wrote it: a record of no tool call (no callId, no tool), under
// want's key, in want's environment, written from arguments that are the
// same call as want's (wantHash, see writtenHash). A retry may spell its
// arguments another way the key takes for the same call (1.5 for 1.50, a
// decomposed é, the default status spelled out): it claims the same key,
// and must find the record the first spelling wrote, not write it again.
// The actor is not compared: the key does not depend on it, and the record
// the key names is the one a first caller wrote, whoever retries.
func sameWritten(tool *chain.Tool, r, want audit.Record, wantHash string) (bool, error) {
	if r.CallID != "" || r.Tool != "" || r.IdempotencyKey != want.IdempotencyKey || r.Env != want.Env {
		return false, nil
	}
	got, err := writtenHash(tool, r)
	if err != nil {
		return false, fmt.Errorf("hash the audit record of %s: %w", r.TS.Format(time.RFC3339Nano), err)
	}
	return got == wantHash, nil
}

// writtenHash is the args hash, under tool's call form (the one the key
// is derived and checked with), of the writeAudit arguments rec was
// written from (see writtenRecord), as far as the record keeps them:
// redacted, with the status it was given or defaulted to, and details
// left out when the log left them out.
func writtenHash(tool *chain.Tool, rec audit.Record) (string, error) {
	args := map[string]any{"provider": rec.Provider, "action": rec.Action, "target": rec.Target, "status": rec.Status}
	if rec.Details != nil {
		args["details"] = rec.Details
	}
	return tool.Form.ArgsHash(tool.Name, args)
}

// jsonSize is the size of v as the audit log writes it: without
// encoding/json's escaping of <, > and & as \u003c (six bytes for one;
// found in review: details of HTML or URLs were refused at a sixth of the
// documented 64 KiB).
func jsonSize(v any) (int, bool) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return 0, false
	}
	return b.Len() - 1, true // Encode ends with a newline
}
