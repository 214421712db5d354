package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// TestAnAcceptedDeliveryWithAHugeTargetSurvivesARestart: the target comes
// from the verified body (a Stripe data.object.id) and a segment record's
// header may not exceed what the decoder believes (64 KiB). A 70 KiB object
// id must not make an accepted delivery read back as torn after a restart
// (and be tombstoned, never processed): the target is clamped.
func TestAnAcceptedDeliveryWithAHugeTargetSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), queue.FileName)
	db, err := queue.Open(ctx, path, queue.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	client, err := db.NewRiver(queue.RiverConfig{})
	require.NoError(t, err)
	sink := &memSink{}
	in, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(client, 5), Receipts: ReceiptAuditor(sink)})
	require.NoError(t, err)
	srv := httptest.NewServer(NewHandler(Options{Store: in, Audit: sink, Secrets: Secrets{Stripe: secrets("whsec_test")}}))

	body := []byte(`{"id":"evt_long","type":"payment_intent.succeeded","data":{"object":{"id":"pi_` +
		strings.Repeat("x", 70<<10) + `"}}}`)
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_test", Timestamp: time.Now()})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set(StripeSignatureHeader, sp.Header)
	req.Header.Set("Content-Type", "application/json")
	code, out := do(t, req)
	require.Equal(t, http.StatusAccepted, code, out)

	// A clean stop (what SIGTERM does) and a start on the same DATA_DIR.
	srv.Close()
	in.Close()
	in2, err := queue.NewIntake(ctx, db, queue.IntakeOptions{Jobs: queue.RiverInserter(client, 5), Receipts: ReceiptAuditor(sink)})
	require.NoError(t, err)
	t.Cleanup(in2.Close)

	assert.Zero(t, in2.Recovered().Tombstoned, "a clean restart tombstoned a delivery that was answered 202")
	d, err := db.Find(ctx, "stripe:evt_long")
	require.NoError(t, err, "the accepted delivery's key is gone after a clean restart")
	assert.Equal(t, queue.StatePending, d.State)
	assert.NotEqual(t, "torn", d.Outcome)
}
