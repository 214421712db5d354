package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// terminalsOf returns the terminal record of each call of tool, in order.
func (h *harness) terminalsOf(tool string) []audit.Record {
	var out []audit.Record
	for _, r := range h.records() {
		if r.Tool == tool && r.CallID != "" && isTerminal(r.Status) {
			out = append(out, r)
		}
	}
	return out
}

// An investigator asks "was this Stripe event booked twice?". Two
// recordPaymentEvent calls for one event id under two keys both succeed: the
// first books it, the second finds it in the ledger (its result says
// recorded: false). The audit log must tell them apart, as the worker's
// records of the same ledger do (details.recorded / duplicate); otherwise
// the log shows two "succeeded" record_payment_event records for one event
// and nothing says which one booked it (found in review).
func TestRecordPaymentEventsAuditRecordSaysWhetherItBookedTheEvent(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	h.fake.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_rev1", fakesaas.Payment{ObjectID: "cs_rev1", Customer: "cus_1", Email: "pat@example.com", Amount: 4200, Currency: "eur"}))
	first := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": "evt_rev1", "idempotencyKey": "book-1"}))
	second := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": "evt_rev1", "idempotencyKey": "book-2"}))
	require.Equal(t, true, first["recorded"])
	require.Equal(t, false, second["recorded"])

	terms := h.terminalsOf("recordPaymentEvent")
	require.Len(t, terms, 2)
	for i, want := range []bool{true, false} {
		r := terms[i]
		require.Equal(t, audit.StatusSucceeded, r.Status)
		got, ok := r.Details["recorded"].(bool)
		assert.True(t, ok && got == want,
			"call %d (key %s): its terminal record must say whether it booked the event (recorded=%v); details: %v",
			i+1, r.IdempotencyKey, want, r.Details)
	}
}

// An investigator after an ambiguous provider failure asks "which issue or
// message did that call make?". The first attempt fails after the provider
// committed (502); the retry with the same key reconciles and finds the
// effect. The log's reconciled record said found: true, but neither it nor
// the replayed terminal record named what was found (issue number / URL,
// message ts), so the log could not tie the call to the effect it settled
// on (found in review; writeAudit's retry did: details.found names the
// record). Each call's terminal record now names its issue or message.
func TestAReconciliationNamesTheEffectItFoundInTheAuditLog(t *testing.T) {
	t.Parallel()
	for _, tool := range effectTools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, withAllCredentials)
			id := "revfound"
			h.fake.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway})
			res := h.call(tool.name, tool.args(id))
			require.True(t, res.IsError, "the first attempt meets the fault")
			out := structured(t, h.call(tool.name, tool.args(id)))
			require.Equal(t, true, out["replayed"], "the retry found the effect")
			// A reference no other detail can equal by chance: the issue's
			// URL, the message's ts.
			ref, _ := out["url"].(string)
			if ref == "" {
				ref = tool.ref(out)
			}
			require.NotEmpty(t, ref)
			require.Len(t, tool.effects(h.fake, id), 1)

			var reconciled, terminal *audit.Record
			recs := h.records()
			for i := range recs {
				r := &recs[i]
				if r.Tool != tool.name || r.IdempotencyKey != "key-"+id {
					continue
				}
				switch {
				case r.Status == audit.StatusReconciled:
					reconciled = r
				case r.Status == audit.StatusReplayed:
					terminal = r
				}
			}
			require.NotNil(t, reconciled, "a reconciled record")
			require.NotNil(t, terminal, "a replayed terminal record")
			require.Equal(t, true, reconciled.Details["found"])
			named := false
			for _, r := range []*audit.Record{reconciled, terminal} {
				for _, v := range r.Details {
					if fmt.Sprint(v) == ref || containsRef(v, ref) {
						named = true
					}
				}
			}
			assert.True(t, named, "the log names the effect found (%s); reconciled details %v, replayed details %v",
				ref, reconciled.Details, terminal.Details)
		})
	}
}

// containsRef reports whether v, a detail's value, holds ref among its own
// values (a map naming the effect, say {"number": 1, "url": ...}).
func containsRef(v any, ref string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, x := range m {
		if fmt.Sprint(x) == ref {
			return true
		}
	}
	return false
}
