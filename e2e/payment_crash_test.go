package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// killedPaymentCall books event under key with serve killed at failpoint,
// then restarts it (no failpoint) for the retry, which it leaves to the test.
func killedPaymentCall(t *testing.T, failpoint, event, key string) (*harness, map[string]any) {
	t.Helper()
	h := start(t, fastEnv(map[string]string{"SAAS_MCP_FAILPOINT": failpoint}))
	h.fake.AddStripeEvent(fakesaas.PaymentIntentSucceeded(event,
		fakesaas.Payment{Customer: "cus_1", Amount: 4200, Currency: "eur"}))
	args := map[string]any{"eventId": event, "idempotencyKey": key}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := try(ctx, h.session, "recordPaymentEvent", args)
	require.Error(t, err, "the server died at %s", failpoint)
	h.restart(map[string]string{"SAAS_MCP_FAILPOINT": ""})
	return h, args
}

// TestAPaymentBookedByAKilledCallIsExplainedByTheLog: serve is killed after
// recordPaymentEvent booked the event in the ledger but before its result
// was committed and its terminal record written (any kill -9 in that window;
// the after_response failpoint hits it every time). The agent retries with
// the same key after the restart. The terminal record of recordPaymentEvent
// says whether this call booked the event (recorded) or it was booked before
// (duplicate), so that the log alone shows each event booked once. The
// ledger row names the key that booked it, so the retry's terminal record
// says recorded, with earlierAttempt (the attempt that booked it has no
// terminal record), and its result says recorded: true, as a replay of the
// committed call would have. Found in review: the retry said duplicate and
// recorded: false, and no audit record said the event was booked.
func TestAPaymentBookedByAKilledCallIsExplainedByTheLog(t *testing.T) {
	t.Parallel()
	h, args := killedPaymentCall(t, "after_response", "evt_killed1", "book-killed1")
	out := structured(t, h.call("recordPaymentEvent", args))

	var booked, dup, earlier int
	for _, r := range h.records() {
		if r.Tool != "recordPaymentEvent" || r.Target != "evt_killed1" || !isTerminal(r.Status) {
			continue
		}
		if v, _ := r.Details["recorded"].(bool); v {
			booked++
			assert.Equal(t, "book-killed1", r.IdempotencyKey, "the booking is attributed to the key that made it")
		}
		if v, _ := r.Details["duplicate"].(bool); v {
			dup++
		}
		if v, _ := r.Details["earlierAttempt"].(bool); v {
			earlier++
		}
	}
	assert.Equal(t, 1, booked, "the audit log alone must show the event booked once; %d record(s) say duplicate", dup)
	assert.Equal(t, 1, earlier, "the record that says it booked the event says an earlier attempt did")
	assert.Equal(t, true, out["recorded"], "the key that booked the event is told it did not: %v", out)

	// Another key for the same event finds it booked by someone else.
	other := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": "evt_killed1", "idempotencyKey": "book-other"}))
	assert.Equal(t, false, other["recorded"], "another key did not book it: %v", other)
}

// TestAPaymentBookedByACallKilledAfterItsCommitIsNamedByTheReplay: serve is
// killed after the call's result was committed but before its terminal
// record (the after_commit failpoint; a kill -9 there in chaos runs). The
// retry replays the stored result, and its replayed record names what the
// stored result says (recorded, type, amount, currency), so the log still
// says this key booked the event. Found in review, in chaos runs: the
// replayed record carried no details, and no record said the event was
// booked.
func TestAPaymentBookedByACallKilledAfterItsCommitIsNamedByTheReplay(t *testing.T) {
	t.Parallel()
	h, args := killedPaymentCall(t, "after_commit", "evt_killed2", "book-killed2")
	out := structured(t, h.call("recordPaymentEvent", args))
	assert.Equal(t, true, out["replayed"])
	var named int
	for _, r := range h.records() {
		if r.Tool != "recordPaymentEvent" || r.Target != "evt_killed2" || !isTerminal(r.Status) {
			continue
		}
		require.Equal(t, "replayed", r.Status, "the killed call wrote no terminal record")
		if v, _ := r.Details["recorded"].(bool); v {
			named++
			assert.Equal(t, "book-killed2", r.IdempotencyKey)
			assert.Equal(t, "eur", r.Details["currency"])
		}
	}
	assert.Equal(t, 1, named, "the replay names the booking")
}
