package chain

import (
	"context"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// nameReplaced names the expired row in doubt that this call's claim has
// just replaced, as serve's start-up report and prune name a key in doubt:
// its call may have acted without a stored result, its row was the only
// trace of it, and the prune, which would have named it before deleting it,
// will now never see it. The record is written (and synced) before this
// call acts. If it cannot be, the call is refused, as for any audit record
// that cannot be written, and its claim taken back by writing the replaced
// row back in doubt (Store.Restore), so that the next call with the key
// names it then (found in review: Release deleted it, the only trace of a
// call that may have acted, and the retry named nothing).
func (m *Idempotency) nameReplaced(ctx context.Context, c *Call, replaced idempotency.Claim, now time.Time) error {
	wctx := context.WithoutCancel(ctx)
	m.Log.Warn("idempotency key in doubt", "key", idempotency.CallerKey(replaced.Key), "tool", replaced.Tool,
		"target", replaced.Target, "claimedAt", replaced.ClaimedAt)
	rec := InDoubtRecord(replaced, now)
	rec.TS = m.Now()
	err := m.Audit.Write(wctx, rec)
	if err == nil {
		return nil
	}
	m.Log.Error("audit record of a replaced key in doubt not written", "tool", c.Tool.Name, "callId", c.CallID, "err", err)
	if rerr := m.Store.Restore(wctx, c.owner, replaced); rerr != nil {
		m.Log.Error("put back the replaced idempotency key in doubt", "tool", c.Tool.Name, "err", rerr)
	}
	return Internal("audit log cannot be written, so the action was refused", err)
}

// InDoubtRecord is the audit record that names a key in doubt (c.InDoubtAt)
// at now: action idempotency.in_doubt, with the tool, target, claim time and
// state of the call that may have acted, and whether its row had expired
// (it then no longer blocks a new call, which acts again, and this record
// is what explains the earlier call's started record). The caller sets TS,
// or leaves it to the sink. The idempotency middleware writes it for an
// expired row its claim replaced; serve's start-up report and prune write
// the same record with it.
func InDoubtRecord(c idempotency.Claim, now time.Time) audit.Record {
	return audit.Record{
		Actor: "saas-mcp", Provider: "saas-mcp", Action: "idempotency.in_doubt", Target: c.Target,
		IdempotencyKey: idempotency.CallerKey(c.Key), Status: audit.StatusInDoubt, Tool: c.Tool,
		Details: map[string]any{"claimedAt": c.ClaimedAt.UTC().Format(time.RFC3339Nano), "state": string(c.State),
			"expired": c.Expired(now)},
	}
}
