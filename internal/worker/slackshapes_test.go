package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// TestSlackEventsWithObjectFieldsAreProcessedNotDeadLettered: Slack's
// Events API sends some event_callback events whose event.user or
// event.channel is an object, not an id: team_join and user_change carry the
// whole user, channel_created and channel_rename the whole channel. The
// receiver accepts them and answers 202; the worker must then turn each into
// an audit record, not dead-letter it as unparseable (found in review).
func TestSlackEventsWithObjectFieldsAreProcessedNotDeadLettered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, payload string }{
		{"team_join", `{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"team_join","user":{"id":"U1","name":"ann"}}}`},
		{"user_change", `{"type":"event_callback","team_id":"T1","event_id":"Ev2","event":{"type":"user_change","user":{"id":"U1","name":"ann"}}}`},
		{"channel_created", `{"type":"event_callback","team_id":"T1","event_id":"Ev3","event":{"type":"channel_created","channel":{"id":"C1","name":"x","creator":"U1"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, &fakeLedger{}, "sandbox", 3)
			key := "slack:" + tc.name
			id := b.enqueue(t, queue.NewDelivery{Provider: "slack", Key: key, EventType: "event_callback",
				ContentType: "application/json", Target: "T1", Payload: []byte(tc.payload)})
			d := b.waitAny(t, id)
			assert.Equal(t, queue.StateProcessed, d.State, "last error: %s", d.LastError)
			assert.Equal(t, []string{audit.StatusProcessed}, b.sink.statuses(key))
		})
	}
}

// waitAny polls until the delivery is no longer pending.
func (b *testBundle) waitAny(t *testing.T, id int64) queue.Delivery {
	t.Helper()
	var d queue.Delivery
	require.Eventually(t, func() bool {
		ds, err := b.db.Load(context.Background(), []int64{id})
		if err != nil || len(ds) == 0 { // not require: this runs on testify's goroutine
			return false
		}
		d = ds[0]
		return d.State != queue.StatePending
	}, 20*time.Second, 10*time.Millisecond, "delivery %d stayed pending", id)
	return d
}
