package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// README: writeAudit's result is "the record written"; the same call within
// the window acts once and "the others get its result (replayed: true)";
// "integers past 2^53 are not rounded". The replay must show the record the
// log holds, not a rounded copy.
func TestAReplayedWriteAuditIsTheRecordWritten(t *testing.T) {
	h := start(t, nil)
	args := map[string]any{"provider": "p", "action": "a", "target": "x",
		"details": map[string]any{"n": json.Number("9007199254740993")}}
	first := h.call("writeAudit", args)
	if first.IsError || !strings.Contains(text(first), "9007199254740993") {
		t.Fatalf("first call: %s", text(first))
	}
	second := h.call("writeAudit", args)
	if second.IsError || !strings.Contains(text(second), `"replayed":true`) {
		t.Fatalf("second call is not a replay: %s", text(second))
	}
	if !strings.Contains(text(second), "9007199254740993") {
		t.Fatalf("replayed result differs from the record written: first %s\nreplay %s", text(first), text(second))
	}
}
