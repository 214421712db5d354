package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A writeAudit in doubt whose arguments hold what redaction changes (keys
// that collide once masked, a secret given as a number, a secret in the
// target, hostile characters) must still find the record its first attempt
// wrote, even with many records appended in between, and not write it again.
func TestWriteAuditRetryFindsARedactedRecordAmongManyOthers(t *testing.T) {
	t.Parallel()
	const secret = "supersecretvalue-0123456789"
	const numSecret = "98765432109876543210"
	cases := map[string]func() map[string]any{
		"keys colliding once masked": func() map[string]any {
			return map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1", "idempotencyKey": "k1",
				"details": map[string]any{secret: "a", "x" + secret: "b", redact.Mask: "c", redact.Mask + "#2": "d",
					"nested": map[string]any{secret: json.Number("1"), "y" + secret: json.Number("2")}}}
		},
		"a secret number and a secret target": func() map[string]any {
			return map[string]any{"provider": "pagerduty", "action": "ack", "target": "T " + secret, "idempotencyKey": "k2",
				"details": map[string]any{"n": json.Number(numSecret), "list": []any{json.Number(numSecret), secret}}}
		},
		"hostile characters": func() map[string]any {
			return map[string]any{"provider": "p\u2028", "action": "a\x00b", "target": "t\ufffd\u2029\"\\", "idempotencyKey": "k3",
				"details": map[string]any{"\u2028": "\x00", "": strings.Repeat("é", 1000), "f": json.Number("1e2")}}
		},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			red := redact.New(secret, numSecret)
			w := openAuditLog(t, red)
			now := claimAt.Add(3 * time.Millisecond)
			def, err := WriteAudit(Deps{Audit: w, Now: func() time.Time { return now }, Redactor: red})
			require.NoError(t, err)
			ctx := context.Background()
			first := chain.NewCall(def.Chain, args(), "claude", "sandbox", "c1")
			require.NoError(t, w.Write(ctx, startedRecord(first, claimAt.Add(-time.Millisecond))))
			_, err = def.Chain.Run(ctx, first)
			require.NoError(t, err)
			for i := range 500 {
				require.NoError(t, w.Write(ctx, audit.Record{TS: now.Add(time.Duration(i) * time.Millisecond), Actor: "other",
					Provider: "audit", Action: "write_audit", Target: "P1", IdempotencyKey: "other", Status: audit.StatusSucceeded, Env: "sandbox",
					Details: map[string]any{"big": strings.Repeat("z", 4096)}}))
			}
			retry := chain.NewCall(def.Chain, args(), "claude", "sandbox", "c2")
			require.NoError(t, w.Write(ctx, startedRecord(retry, now.Add(time.Second))))
			_, found, err := def.Chain.Reconcile(ctx, retry, claimAt)
			require.NoError(t, err)
			assert.True(t, found, "the record the first attempt wrote is found, not written again")
		})
	}
}
