package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// onlyDeadLetterSink fails every record but dead_lettered: the job's
// attempts fail before the delivery's attempt is recorded, and the job's
// give-up record is written.
type onlyDeadLetterSink struct{ *memSink }

func (s onlyDeadLetterSink) Write(ctx context.Context, r audit.Record) error {
	if r.Status != audit.StatusDeadLettered {
		return errors.New("audit log: no space left on device")
	}
	return s.memSink.Write(ctx, r)
}

// Every worker record names its River job, the job's attempt and when that
// run began (details.job, details.jobAttempts, details.jobRunAt), the
// dead_lettered record a job writes when it gives up on its stranded
// deliveries too (found in review: it named no run start).
func TestAGiveUpDeadLetterRecordNamesItsJobsRun(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeLedger{}, "sandbox", 2)
	b.wk.d.Audit = onlyDeadLetterSink{b.sink}
	const key = "stripe:evt_giveup"
	id := b.enqueue(t, queue.NewDelivery{Provider: "stripe", Key: key, EventType: "checkout.session.completed",
		Payload: stripeEvent("evt_giveup", false)})
	b.waitState(t, id, queue.StateDead)
	var recs []audit.Record
	require.Eventually(t, func() bool { recs = b.sink.records(key); return len(recs) > 0 }, 10*time.Second, 5*time.Millisecond)
	r := recs[0]
	require.Equal(t, audit.StatusDeadLettered, r.Status)
	assert.NotNil(t, r.Details["job"])
	assert.NotNil(t, r.Details["jobRunAt"], "details: %v", r.Details)
}
