// Package audit writes the append-only NDJSON audit log: one JSON object per
// line, one line per record, never rewritten.
//
// A tool call leaves a "started" record before any provider is called and one
// terminal record (succeeded, failed, replayed or rejected). Webhook
// deliveries leave received, rejected, processed, failed, dead_lettered and
// replayed records. If a record cannot be written the caller must refuse the
// action: the log fails closed.
package audit

import (
	"context"
	"time"
)

// Statuses of a record.
const (
	StatusStarted      = "started"
	StatusSucceeded    = "succeeded"
	StatusFailed       = "failed"
	StatusReplayed     = "replayed"
	StatusRejected     = "rejected"
	StatusInDoubt      = "in_doubt"
	StatusReconciled   = "reconciled"
	StatusRecorded     = "recorded"
	StatusReceived     = "received"
	StatusProcessed    = "processed"
	StatusDeadLettered = "dead_lettered"
	StatusStale        = "stale" // a Stripe event older than one already applied to its object
)

// Record is one line of the audit log. Field names are the log's stable
// schema; do not rename them.
type Record struct {
	TS             time.Time      `json:"ts"`
	Actor          string         `json:"actor"`
	Provider       string         `json:"provider"`
	Action         string         `json:"action"`
	Target         string         `json:"target"`
	IdempotencyKey string         `json:"idempotencyKey"`
	Status         string         `json:"status"`
	Tool           string         `json:"tool,omitempty"`
	Env            string         `json:"env,omitempty"`
	CallID         string         `json:"callId,omitempty"`
	Attempts       int            `json:"attempts"`   // always written: 0 says no provider attempt
	DurationMs     float64        `json:"durationMs"` // always written
	Error          string         `json:"error,omitempty"`
	Details        map[string]any `json:"details,omitempty"`
}

// BatchSink is a Sink that can make several records durable at once.
type BatchSink interface {
	Sink
	WriteBatch(ctx context.Context, recs []Record) error
}

// WriteAll writes recs through sink, as one batch when the sink can.
func WriteAll(ctx context.Context, sink Sink, recs []Record) error {
	if bs, ok := sink.(BatchSink); ok {
		return bs.WriteBatch(ctx, recs)
	}
	for _, r := range recs {
		if err := sink.Write(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Sink accepts audit records. Write returns only after the record is in the
// log (as durable as the sink's sync policy promises); an error means the
// record is not there and the caller must not go on with the action.
type Sink interface {
	Write(ctx context.Context, r Record) error
}
