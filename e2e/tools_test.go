package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestToolsListMatchesTheGoldenSnapshot(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	res, err := h.session.ListTools(context.Background(), nil)
	require.NoError(t, err)
	sort.Slice(res.Tools, func(i, j int) bool { return res.Tools[i].Name < res.Tools[j].Name })
	got, err := json.MarshalIndent(res.Tools, "", "  ")
	require.NoError(t, err)
	golden := filepath.Join("testdata", "tools.golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./e2e -update to create it")
	assert.JSONEq(t, string(want), string(got), "tools/list changed: review, then go test ./e2e -run ToolsList -update")

	names := []string{}
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		assert.NotNil(t, tool.OutputSchema, tool.Name)
		require.NotNil(t, tool.Annotations, tool.Name)
		assert.NotNil(t, tool.Annotations.DestructiveHint, tool.Name)
		assert.NotNil(t, tool.Annotations.OpenWorldHint, tool.Name)
	}
	assert.Equal(t, []string{"createTicket", "recordPaymentEvent", "sendMessage", "writeAudit"}, names)
}

func TestSendMessagePostsOnceToSlack(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	out := structured(t, h.call("sendMessage", map[string]any{"channel": "C0123", "text": "deploy done", "idempotencyKey": "deploy-42"}))
	assert.Equal(t, "slack", out["provider"])
	assert.Equal(t, "C0123", out["channel"])
	assert.NotEmpty(t, out["ts"])
	assert.Equal(t, false, out["replayed"])
	assert.Equal(t, "deploy-42", out["idempotencyKey"])
	msgs := h.fake.SlackMessages("C0123")
	require.Len(t, msgs, 1)
	assert.Equal(t, "deploy done", msgs[0].Text)
	assert.Equal(t, []string{"started", "succeeded"}, h.statusesOf("sendMessage"))
}

func TestSendMessageFallsBackToTheIncomingWebhook(t *testing.T) {
	t.Parallel()
	h := start(t, func(f *fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_WEBHOOK_URL": f.SlackWebhookURL()}
	})
	res := h.call("sendMessage", map[string]any{"channel": "C0WEBHOOK", "text": "via webhook"})
	out := structured(t, res)
	assert.Equal(t, "slack", out["provider"])
	assert.Equal(t, 1, h.fake.Count("POST", fakesaas.SlackWebhookPath))
	// The webhook URL carries a secret in its path: it must not leak.
	assert.NotContains(t, h.stderr.String(), fakesaas.SlackWebhookPath)
}

func TestCreateTicketOpensOneIssueWithItsMarker(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	out := structured(t, h.call("createTicket", map[string]any{
		"repo": "acme/app", "title": "Build broken", "body": "main fails", "labels": []any{"bug"}, "idempotencyKey": "build-1",
	}))
	assert.Equal(t, "github", out["provider"])
	assert.EqualValues(t, 1, out["number"])
	assert.Contains(t, out["url"], "/acme/app/issues/1")
	issues := h.fake.GitHubIssues("acme/app")
	require.Len(t, issues, 1)
	assert.Contains(t, issues[0].Body, "main fails")
	assert.Contains(t, issues[0].Body, "<!-- saas-mcp:key=")
	recs := h.records()
	require.NotEmpty(t, recs)
	last := recs[len(recs)-1]
	assert.Equal(t, "create_issue", last.Action)
	assert.Equal(t, "acme/app", last.Target)
	assert.Equal(t, "build-1", last.IdempotencyKey)
	assert.Equal(t, "e2e-client", last.Actor, "actor defaults to clientInfo.name")
	assert.Equal(t, "sandbox", last.Env)
	assert.Equal(t, 1, last.Attempts)
}

func TestReplayReturnsTheFirstResultWithoutASecondEffect(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	args := map[string]any{"repo": "acme/app", "title": "Once", "idempotencyKey": "once-1"}
	first := structured(t, h.call("createTicket", args))
	second := structured(t, h.call("createTicket", args))
	assert.Equal(t, false, first["replayed"])
	assert.Equal(t, true, second["replayed"])
	assert.Equal(t, first["number"], second["number"])
	assert.Len(t, h.fake.GitHubIssues("acme/app"), 1)
	assert.Equal(t, []string{"started", "succeeded", "started", "replayed"}, h.statusesOf("createTicket"))

	args["title"] = "Other"
	res := h.call("createTicket", args)
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "different arguments")
}

func TestRecordPaymentEventRecordsOnce(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	h.fake.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_1Abc", fakesaas.Payment{ObjectID: "cs_1", Customer: "cus_9", Email: "pat@example.com", Amount: 4200, Currency: "eur"}))
	out := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": "evt_1Abc"}))
	assert.Equal(t, "stripe", out["provider"])
	assert.Equal(t, "checkout.session.completed", out["type"])
	assert.Equal(t, "cus_9", out["customer"])
	assert.EqualValues(t, 4200, out["amount"])
	assert.Equal(t, "eur", out["currency"])
	assert.Equal(t, true, out["recorded"])
	// Another key, same event: the ledger already has it.
	again := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": "evt_1Abc", "idempotencyKey": "k2"}))
	assert.Equal(t, false, again["recorded"])
	assert.Equal(t, false, again["replayed"])
}

func TestWriteAuditAppendsTheRecord(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	out := structured(t, h.call("writeAudit", map[string]any{
		"provider": "pagerduty", "action": "ack_incident", "target": "P123", "details": map[string]any{"note": "token xoxb-1-2-3"},
	}))
	assert.Equal(t, "pagerduty", out["provider"])
	assert.Equal(t, "succeeded", out["status"])
	var found bool
	for _, r := range h.records() {
		if r.Provider == "pagerduty" && r.Action == "ack_incident" && r.Target == "P123" {
			found = true
			assert.Equal(t, "[REDACTED]", strings.TrimPrefix(r.Details["note"].(string), "token "))
		}
	}
	assert.True(t, found)
}

func TestInvalidInputIsRejectedWithTheFieldNamed(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	res := h.call("createTicket", map[string]any{"repo": "not a repo", "labels": "bug"})
	require.True(t, res.IsError)
	msg := text(res)
	for _, want := range []string{"title: is required", "repo:", "labels:"} {
		assert.Contains(t, msg, want)
	}
	assert.Empty(t, h.fake.Requests(), "nothing reached a provider")
	assert.Equal(t, []string{"started", "rejected"}, h.statusesOf("createTicket"))
}

func TestRateLimitedCallWaitsForRetryAfterAndReportsProgress(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Status: 429,
		Header: map[string][]string{"Retry-After": {"1"}}})
	begin := time.Now()
	res := h.callMeta("createTicket", map[string]any{"repo": "acme/app", "title": "Rate limited"}, mcp.Meta{"progressToken": "tok-1"})
	out := structured(t, res)
	assert.GreaterOrEqual(t, time.Since(begin), 900*time.Millisecond, "Retry-After was honoured")
	assert.EqualValues(t, 1, out["number"])
	assert.Len(t, h.fake.GitHubIssues("acme/app"), 1)
	select {
	case p := <-h.progress:
		assert.Equal(t, "tok-1", p.ProgressToken)
		assert.Contains(t, p.Message, "waiting")
	case <-time.After(5 * time.Second):
		t.Fatal("no progress notification while waiting")
	}
	recs := h.records()
	assert.Equal(t, 2, recs[len(recs)-1].Attempts)
}

func TestMissingSecretNamesTheVariable(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	res := h.call("createTicket", map[string]any{"repo": "acme/app", "title": "x"})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "GITHUB_TOKEN")
	assert.Equal(t, []string{"started", "rejected"}, h.statusesOf("createTicket"))
}

func TestLiveKeyInSandboxIsRefused(t *testing.T) {
	t.Parallel()
	h := start(t, func(*fakesaas.Server) map[string]string {
		return map[string]string{"STRIPE_SECRET_KEY": fakesaas.StripeLiveKey}
	})
	res := h.call("recordPaymentEvent", map[string]any{"eventId": "evt_1"})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "sandbox rule")
	assert.Contains(t, text(res), "STRIPE_SECRET_KEY")
	assert.NotContains(t, text(res), fakesaas.StripeLiveKey)
	assert.Empty(t, h.fake.Requests())
}

func TestNoSecretLeaksAnywhere(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Status: 401})
	res := h.call("createTicket", map[string]any{"repo": "acme/app", "title": "x"})
	require.True(t, res.IsError)
	res2 := h.call("sendMessage", map[string]any{"channel": "C1", "text": "hi " + fakesaas.GitHubToken})
	raw, _ := os.ReadFile(h.auditLog)
	for _, secret := range []string{fakesaas.SlackToken, fakesaas.GitHubToken, fakesaas.StripeKey} {
		assert.NotContains(t, text(res), secret)
		assert.NotContains(t, text(res2), secret)
		assert.NotContains(t, h.stderr.String(), secret)
		assert.NotContains(t, string(raw), secret)
	}
}

// AUDIT_ACTOR, when set, is every record's actor instead of the client's
// clientInfo.name.
func TestAuditActorOverridesTheClientName(t *testing.T) {
	t.Parallel()
	h := start(t, func(*fakesaas.Server) map[string]string { return map[string]string{"AUDIT_ACTOR": "ci-bot"} })
	res := h.call("writeAudit", map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1"})
	require.False(t, res.IsError, text(res))
	var actors []string
	for _, r := range h.records() {
		if r.Tool == "writeAudit" {
			actors = append(actors, r.Actor)
		}
	}
	assert.Equal(t, []string{"ci-bot", "ci-bot"}, actors, "the started and terminal records")
}

// recordPaymentEvent keeps the amount that was paid, for every kind of
// payment object Stripe sends: a charge or invoice that failed paid nothing.
func TestRecordPaymentEventKeepsTheAmountPaidForEachObject(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	p := func(id string) fakesaas.Payment {
		return fakesaas.Payment{ObjectID: id, Customer: "cus_1", Email: "pat@example.com", Amount: 2500, Currency: "jpy"}
	}
	tests := []struct {
		event fakesaas.StripeEvent
		want  int64
	}{
		{fakesaas.ChargeSucceeded("evt_1ChOk", p("ch_ok")), 2500},
		{fakesaas.ChargeFailed("evt_1ChNo", p("ch_no")), 0},
		{fakesaas.InvoicePaid("evt_1InOk", p("in_ok")), 2500},
		{fakesaas.InvoicePaymentFailed("evt_1InNo", p("in_no")), 0},
		{fakesaas.PaymentIntentSucceeded("evt_1PiOk", p("pi_ok")), 2500},
	}
	for _, tt := range tests {
		h.fake.AddStripeEvent(tt.event)
		out := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": tt.event.ID}))
		assert.EqualValues(t, tt.want, out["amount"], tt.event.Type)
		assert.Equal(t, "jpy", out["currency"], "a zero-decimal currency is kept as Stripe gives it")
		assert.Equal(t, true, out["recorded"], tt.event.Type)
	}
}
