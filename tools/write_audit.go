package tools

import (
	"context"
	"encoding/json"
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
			status := c.String("status")
			if status == "" {
				status = audit.StatusSucceeded
			}
			details, _ := c.Args["details"].(map[string]any)
			if details != nil {
				// JSON Schema bounds only how many keys; one record must
				// stay a line a reader can take, and not grow the log by
				// megabytes per call.
				if b, err := json.Marshal(details); err == nil && len(b) > maxDetailsBytes {
					return nil, chain.Errorf(chain.KindInvalid, "invalid arguments for writeAudit: details: %d bytes of JSON, at most %d", len(b), maxDetailsBytes)
				}
			}
			rec := audit.Record{
				TS:             d.Now().UTC(),
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
			if err := d.Audit.Write(ctx, rec); err != nil {
				return nil, chain.Internal("audit log cannot be written", err)
			}
			c.SetDetail("wrote", map[string]any{"ts": rec.TS.Format(time.RFC3339Nano), "provider": rec.Provider,
				"action": rec.Action, "target": rec.Target, "status": rec.Status})
			// What the log holds is redacted; show the agent the same.
			return WrittenAudit{Record: audit.Redact(d.Redactor, rec)}, nil
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
