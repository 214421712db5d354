package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/safetext"
)

// Audit writes a "started" record before the call goes on and one terminal
// record after it: succeeded, replayed, rejected or failed. If the started
// record cannot be written the call is refused (fail closed): nothing that
// cannot be explained later may happen.
//
// With a sink that can defer its fsync (DeferredSink, the audit.Writer), both
// records are appended at once (a crash of this process cannot lose them)
// and reach the disk within the sink's deferred-sync delay, in one fsync
// shared with neighbouring records. Nothing waits for that fsync: an fsync
// here would queue behind (or in front of) the idempotency claim's, which is
// the one write that must be on disk before a provider is called. If a power
// cut loses a started record, the call is still explained: its claim is
// durable and is reported as idempotency.in_doubt at the next start.
func Audit(sink audit.Sink, now func() time.Time, log *slog.Logger) Middleware {
	write := sink.Write
	if ds, ok := sink.(DeferredSink); ok {
		write = ds.WriteDeferred
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, c *Call) (Result, error) {
			start := now()
			c.Started = start
			rec := baseRecord(c)
			rec.TS = start
			rec.Status = audit.StatusStarted
			// Written even when the client has already cancelled the call
			// (before it started, say): the call is then refused further
			// down, and its refusal must be explained like any other.
			if err := write(context.WithoutCancel(ctx), rec); err != nil {
				return Result{}, Internal("audit log cannot be written, so the action was refused", err)
			}

			res, err := runRecovered(ctx, c, next, log)

			end := now()
			term := baseRecord(c)
			term.TS = end
			term.Attempts = c.Attempts()
			term.DurationMs = float64(end.Sub(start).Microseconds()) / 1000
			term.Status = terminalStatus(res, err)
			if c.details != nil {
				term.Details = c.details
			}
			if err != nil {
				term.Error = err.Error() // the writer redacts
				if KindOf(err) == KindInDoubt || provider.InDoubt(err) {
					if term.Details == nil {
						term.Details = map[string]any{}
					}
					term.Details["inDoubt"] = true
				}
			}
			// The terminal record is written even when the client cancelled:
			// the call's outcome must be explained either way.
			if werr := write(context.WithoutCancel(ctx), term); werr != nil {
				log.Error("audit terminal record not written", "tool", c.Tool.Name, "callId", c.CallID, "err", werr)
				if err == nil {
					// The effect happened and is committed, so the result stands;
					// the missing record is logged, and the started record plus the
					// stored result still explain the call.
					return res, nil
				}
			}
			return res, err
		}
	}
}

// DeferredSink is an audit sink that can append a record without waiting
// for its fsync, which then runs shortly after, shared with other records
// (audit.Writer.WriteDeferred).
type DeferredSink interface {
	WriteDeferred(ctx context.Context, r audit.Record) error
}

func baseRecord(c *Call) audit.Record {
	return audit.Record{
		Actor:          c.Actor,
		Provider:       c.Tool.Provider,
		Action:         c.Tool.Action,
		Target:         targetOf(c),
		IdempotencyKey: c.Key, // cut to length by the audit writer, after redaction
		Tool:           c.Tool.Name,
		Env:            c.Env,
		CallID:         c.CallID,
	}
}

func targetOf(c *Call) string {
	if c.Tool.Target == nil {
		return ""
	}
	// Not cut here: the audit writer cuts it after redaction, so no
	// secret is cut in two and half kept.
	return safetext.Valid(c.Tool.Target(c.Args)) // a target is a label for people; it is never sent
}

func terminalStatus(res Result, err error) string {
	if err == nil {
		if res.Replayed {
			return audit.StatusReplayed
		}
		return audit.StatusSucceeded
	}
	var e *Error
	if errors.As(err, &e) && e.Rejected() {
		return audit.StatusRejected
	}
	return audit.StatusFailed
}

// runRecovered runs next, turning a panic (a bug) into the call's error, so
// the call still gets its terminal audit record and a redacted error result
// rather than the MCP library's raw recovery message. The stack goes to the
// log, whose values are redacted.
func runRecovered(ctx context.Context, c *Call, next Handler, log *slog.Logger) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("tool call panicked", "tool", c.Tool.Name, "callId", c.CallID, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			res, err = Result{}, Internal("internal error in saas-mcp (a bug; the call may have taken effect)", fmt.Errorf("panic: %v", p))
		}
	}()
	return next(ctx, c)
}
