package worker

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
	"github.com/saas-mcp/saas-mcp/internal/queue"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// setupWithLedger is setup with a real SQLite payments ledger, for the cases
// whose outcome depends on what the ledger kept from an earlier Record.
func setupWithLedger(t *testing.T) (*testBundle, payments.Ledger) {
	t.Helper()
	state, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), sqlite.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	// Registered first, so it runs after the worker has stopped.
	t.Cleanup(func() { require.NoError(t, state.Close()) })
	return setupWith(t, state.Payments(), "sandbox", 3), state.Payments()
}

// eventCreated is each test event's Stripe created time: evt_old is older.
var eventCreated = map[string]int64{"evt_old": 1_700_000_000, "evt_new": 1_700_000_100}

// paymentIntentSucceeded is a Stripe event about pi_1.
func paymentIntentSucceeded(id string) []byte {
	return []byte(`{"id":"` + id + `","object":"event","type":"payment_intent.succeeded","created":` +
		strconv.FormatInt(eventCreated[id], 10) + `,"livemode":false,"data":{"object":{"id":"pi_1","object":"payment_intent",` +
		`"amount":500,"amount_received":500,"currency":"eur","customer":"cus_1"}}}`)
}

func TestARepeatedStripeEventKeepsTheOutcomeItFirstHad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// byTool are recorded in the ledger first, as recordPaymentEvent does.
		byTool []string
		// delivered arrive as webhooks, in order, each run to the end.
		delivered []string
		// replayed, if set, is a delivered event run again (`webhooks
		// replay`; a redelivery after a crash takes the same path).
		replayed string
		// check is the delivery whose outcome and audit trail are compared.
		check     string
		want      string
		wantAudit []string
	}{
		{
			name:      "a replayed stale event is still stale",
			delivered: []string{"evt_new", "evt_old"}, replayed: "evt_old", check: "evt_old",
			want: StatusStale, wantAudit: []string{StatusStale, "replayed", StatusStale},
		},
		{
			name:      "a replayed event that was applied is still processed after a newer one",
			delivered: []string{"evt_old", "evt_new"}, replayed: "evt_old", check: "evt_old",
			want: audit.StatusProcessed, wantAudit: []string{audit.StatusProcessed, "replayed", audit.StatusProcessed},
		},
		{
			name:   "a webhook for an event the tool kept as stale is stale",
			byTool: []string{"evt_new", "evt_old"}, delivered: []string{"evt_old"}, check: "evt_old",
			want: StatusStale, wantAudit: []string{StatusStale},
		},
		{
			name:   "a webhook for an event the tool applied is processed",
			byTool: []string{"evt_old"}, delivered: []string{"evt_old"}, check: "evt_old",
			want: audit.StatusProcessed, wantAudit: []string{audit.StatusProcessed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b, ledger := setupWithLedger(t)
			for _, id := range tt.byTool {
				ev, err := stripe.ParseEvent(paymentIntentSucceeded(id))
				require.NoError(t, err)
				_, err = ledger.Record(ctx, ev)
				require.NoError(t, err)
			}
			ids := map[string]int64{}
			for _, id := range tt.delivered {
				ids[id] = b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:" + id,
					EventType: "payment_intent.succeeded", Payload: paymentIntentSucceeded(id)})
				b.waitState(t, ids[id], queue.StateProcessed)
			}
			if tt.replayed != "" {
				first := b.sink.statuses("stripe:" + tt.replayed)
				_, err := b.wk.Replay(ctx, b.client, []int64{ids[tt.replayed]}, nil)
				require.NoError(t, err)
				b.waitFinished(t, []int64{ids[tt.replayed]})
				require.Equal(t, tt.wantAudit[:1], first, "the first run")
			}
			d := b.waitState(t, ids[tt.check], queue.StateProcessed)
			assert.Equal(t, tt.want, d.Outcome)
			assert.Equal(t, tt.wantAudit, b.sink.statuses("stripe:"+tt.check))
		})
	}
}

// checkout.session.completed (unpaid) and
// checkout.session.async_payment_succeeded are two handled types about one
// object (the session cs_...), and the second one carries the money. Both
// may be created in the same second (a test-mode bank debit that succeeds at
// once), and Stripe draws event ids at random: the ledger must order the pair
// by their place in the session's life, not by id, or the money would be
// kept stale, not applied, and audited "stale", though it happened after.
func TestTheMoneyOfADelayedCheckoutIsNotStaleBehindItsUnpaidCompletion(t *testing.T) {
	t.Parallel()
	b, ledger := setupWithLedger(t)
	session := func(id, typ, status string) []byte {
		return []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":1700000000,"livemode":false,"data":{"object":`+
			`{"id":"cs_same","object":"checkout.session","amount_total":4200,"currency":"eur","customer":"cus_1","payment_status":%q}}}`,
			id, typ, status))
	}
	// Delivered in the order Stripe created them; the money event's
	// random id happens to sort first.
	for _, ev := range []struct{ id, typ, status string }{
		{"evt_1Zcompleted", "checkout.session.completed", "unpaid"},
		{"evt_1Apaid", "checkout.session.async_payment_succeeded", "paid"},
	} {
		id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:" + ev.id, EventType: ev.typ,
			Target: "cs_same", Payload: session(ev.id, ev.typ, ev.status)})
		d := b.waitState(t, id, queue.StateProcessed)
		assert.Equal(t, audit.StatusProcessed, d.Outcome, "%s (%s) was not applied", ev.typ, ev.id)
	}
	paid, ok, err := ledger.Get(context.Background(), "evt_1Apaid")
	require.NoError(t, err)
	require.True(t, ok)
	assert.EqualValues(t, 4200, paid.Amount)
	assert.Equal(t, []string{audit.StatusProcessed}, b.sink.statuses("stripe:evt_1Apaid"),
		"the payment's audit trail says it was stale")
}

// A delivery whose run booked its event and died before its audit record
// (kill -9, a power cut after the worker's unsynced commit) runs again: that
// rerun must say the delivery booked the event, in an earlier attempt, or no
// audit record would ever say it was booked. A replay of a processed
// delivery finds its own booking the same way; a webhook for an event the
// tool booked (another booker) is a duplicate.
func TestARerunOfTheDeliveryThatBookedAStripeEventSaysItBookedItInAnEarlierAttempt(t *testing.T) {
	t.Parallel()
	type flags struct{ recorded, duplicate, earlier bool }
	flagsOf := func(r audit.Record) flags {
		return flags{r.Details["recorded"] == true, r.Details["duplicate"] == true, r.Details["earlierAttempt"] == true}
	}
	booked, earlier, dup := flags{recorded: true}, flags{recorded: true, earlier: true}, flags{duplicate: true}
	tests := []struct {
		name string
		// bookedBy, if set, books the event first under that booker (given
		// the delivery's received time), as a killed run of the delivery,
		// or the tool, would have.
		bookedBy func(received time.Time) string
		replay   bool
		// want are the flags of each processed record of the delivery.
		want []flags
	}{
		{"a rerun after a run killed past the ledger says the delivery booked it earlier",
			func(received time.Time) string { return payments.ByDelivery("stripe:evt_old", received) }, false, []flags{earlier}},
		{"a replay of a processed delivery says the delivery booked it earlier",
			nil, true, []flags{booked, earlier}},
		{"a webhook for an event the tool booked is a duplicate",
			func(time.Time) string { return payments.ByCall("k1", time.Unix(1_700_000_000, 0)) }, false, []flags{dup}},
		{"another delivery of the event, stored after the one that booked it was pruned, is a duplicate",
			func(received time.Time) string {
				return payments.ByDelivery("stripe:evt_old", received.Add(-48*time.Hour))
			},
			false, []flags{dup}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b, ledger := setupWithLedger(t)
			received := time.Now().Truncate(time.Millisecond) // as the row keeps it
			if tt.bookedBy != nil {
				ev, err := stripe.ParseEvent(paymentIntentSucceeded("evt_old"))
				require.NoError(t, err)
				ev.By = tt.bookedBy(received)
				_, err = ledger.Record(ctx, ev)
				require.NoError(t, err)
			}
			id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_old", ReceivedAt: received,
				EventType: "payment_intent.succeeded", Payload: paymentIntentSucceeded("evt_old")})
			b.waitState(t, id, queue.StateProcessed)
			if tt.replay {
				_, err := b.wk.Replay(ctx, b.client, []int64{id}, nil)
				require.NoError(t, err)
				b.waitFinished(t, []int64{id})
			}
			var got []flags
			for _, r := range b.sink.records("stripe:evt_old") {
				if r.Status == audit.StatusProcessed {
					got = append(got, flagsOf(r))
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// A delivery of a Stripe event is pruned after WEBHOOK_RETENTION; Stripe
// then delivers the same event again (a retry of a delivery whose 2xx it
// never saw, or a resend from the dashboard). The receiver stores it anew:
// another delivery, another row, under the same key "stripe:<evt>". It did
// not book the event (the first delivery did, and said so), so its record
// must say duplicate. ByDelivery named only the key, so the second delivery
// was taken for a rerun of the first: recorded, earlierAttempt, and the log
// showed the event booked by two deliveries (found in review). It names
// the delivery's received time too.
func TestAnotherDeliveryOfABookedEventStoredAfterThePruneIsADuplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, _ := setupWithLedger(t)
	nd := queue.NewDelivery{Provider: "stripe", Key: "stripe:evt_old",
		EventType: "payment_intent.succeeded", Payload: paymentIntentSucceeded("evt_old")}
	first := b.enqueue(t, nd)
	b.waitState(t, first, queue.StateProcessed)
	// The retention passes: the processed delivery is pruned.
	n, err := b.db.Prune(ctx, time.Now().Add(time.Hour), 1000)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	second := b.enqueue(t, nd) // stored anew: not a duplicate at the intake
	// (SQLite may give the new row the pruned row's id: ids are not
	// AUTOINCREMENT, so an id alone does not tell the two apart either.)
	b.waitState(t, second, queue.StateProcessed)

	var recs []audit.Record
	for _, r := range b.sink.records("stripe:evt_old") {
		if r.Status == audit.StatusProcessed {
			recs = append(recs, r)
		}
	}
	require.Len(t, recs, 2)
	assert.Equal(t, true, recs[0].Details["recorded"], "the first delivery booked the event")
	assert.Equal(t, false, recs[1].Details["recorded"], "the second delivery booked nothing, yet says recorded")
	assert.Equal(t, true, recs[1].Details["duplicate"], "the second delivery is a duplicate")
	assert.Nil(t, recs[1].Details["earlierAttempt"], "the second delivery is no attempt of the first")
}
