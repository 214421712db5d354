package tools

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

type fakeStripe struct{ ev payments.Event }

func (f fakeStripe) GetEvent(context.Context, string) (payments.Event, error) { return f.ev, nil }

type fakeLedger struct {
	mu  sync.Mutex
	got map[string]payments.Event
}

func (l *fakeLedger) Record(_ context.Context, e payments.Event) (payments.Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[string]payments.Event{}
	}
	if _, ok := l.got[e.ID]; ok {
		return payments.Outcome{Duplicate: true}, nil
	}
	l.got[e.ID] = e
	return payments.Outcome{Recorded: true}, nil
}

func (l *fakeLedger) Get(_ context.Context, id string) (payments.Event, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.got[id]
	return e, ok, nil
}

type sink struct{ recs []audit.Record }

func (s *sink) Write(_ context.Context, r audit.Record) error { s.recs = append(s.recs, r); return nil }

func TestAllToolsHaveSchemasAndTruthfulAnnotations(t *testing.T) {
	t.Parallel()
	defs, err := All(Deps{})
	require.NoError(t, err)
	require.Len(t, defs, 4)
	for _, d := range defs {
		assert.Equal(t, d.MCP.Name, d.Chain.Name)
		assert.NotEmpty(t, d.MCP.RawInputSchema)
		assert.NotEmpty(t, d.MCP.RawOutputSchema)
		assert.False(t, *d.MCP.Annotations.ReadOnlyHint, "%s changes something", d.MCP.Name)
		assert.False(t, *d.MCP.Annotations.DestructiveHint, "%s only adds", d.MCP.Name)
		assert.Equal(t, d.Chain.Provider != "audit", *d.MCP.Annotations.OpenWorldHint, d.MCP.Name)
		assert.LessOrEqual(t, len(d.MCP.Description), 200, "descriptions stay short")
	}
}

func TestRecordPaymentEvent(t *testing.T) {
	t.Parallel()
	created := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name     string
		env      string
		livemode bool
		wantErr  string
	}{
		{"a test-mode event is recorded in sandbox", "sandbox", false, ""},
		{"a live-mode event is refused in sandbox", "sandbox", true, "sandbox rule"},
		{"a test-mode event is refused in live", "live", false, "live rule"},
		{"a live-mode event is recorded in live", "live", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ledger := &fakeLedger{}
			ev := payments.Event{ID: "evt_1", Type: "payment_intent.succeeded", ObjectID: "pi_1", Customer: "cus_1", Amount: 1999, Currency: "usd", Created: created, Livemode: tt.livemode}
			def, err := RecordPaymentEvent(Deps{Env: tt.env, Stripe: fakeStripe{ev}, Ledger: ledger})
			require.NoError(t, err)
			c := chain.NewCall(def.Chain, map[string]any{"eventId": "evt_1"}, "t", tt.env, "c1")
			v, err := def.Chain.Run(context.Background(), c)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, chain.KindPolicy, chain.KindOf(err))
				assert.Empty(t, ledger.got, "nothing recorded")
				return
			}
			require.NoError(t, err)
			b, _ := json.Marshal(v)
			assert.JSONEq(t, `{"provider":"stripe","eventId":"evt_1","type":"payment_intent.succeeded","customer":"cus_1","amount":1999,"currency":"usd","recorded":true,"replayed":false}`, string(b))
			v, err = def.Chain.Run(context.Background(), c)
			require.NoError(t, err)
			assert.False(t, v.(RecordedPayment).Recorded, "a second run finds it in the ledger")
		})
	}
}

func TestWriteAuditEchoesTheRedactedRecord(t *testing.T) {
	t.Parallel()
	s := &sink{}
	def, err := WriteAudit(Deps{Audit: s, Now: time.Now, Redactor: redact.New("my-secret-value")})
	require.NoError(t, err)
	c := chain.NewCall(def.Chain, map[string]any{"provider": "p", "action": "a", "target": "my-secret-value", "details": map[string]any{"t": "xoxb-1-2"}}, "claude", "sandbox", "c1")
	v, err := def.Chain.Run(context.Background(), c)
	require.NoError(t, err)
	out := v.(WrittenAudit)
	assert.Equal(t, redact.Mask, out.Target)
	assert.Equal(t, redact.Mask, out.Details["t"])
	assert.Equal(t, "succeeded", out.Status)
	assert.Equal(t, "claude", out.Actor)
	require.Len(t, s.recs, 1)
}
