package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// Every structuredContent validates against the tool's outputSchema from
// tools/list: succeeded, replayed, and reconciled (found after an
// ambiguous failure).
func TestStructuredContentMatchesTheOutputSchemaInEveryCase(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list, err := h.session.ListTools(ctx, nil)
	require.NoError(t, err)
	schemas := map[string]*jsonschema.Schema{}
	c := jsonschema.NewCompiler()
	for _, tool := range list.Tools {
		raw, err := json.Marshal(tool.OutputSchema)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		url := "mem:///" + tool.Name + ".output.json"
		require.NoError(t, c.AddResource(url, doc))
		s, err := c.Compile(url)
		require.NoError(t, err)
		schemas[tool.Name] = s
	}
	check := func(name, what string, res *mcp.CallToolResult) {
		t.Helper()
		out := structured(t, res)
		raw, _ := json.Marshal(out)
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		assert.NoError(t, schemas[name].Validate(doc), "%s (%s): %s", name, what, raw)
	}
	h.fake.AddStripeEvent(fakesaas.CheckoutSessionCompleted("evt_1Sch", fakesaas.Payment{ObjectID: "cs_s", Customer: "cus_s", Amount: 100, Currency: "usd"}))
	calls := []struct {
		name string
		args map[string]any
	}{
		{"sendMessage", map[string]any{"channel": "C0GENERAL", "text": "schema", "idempotencyKey": "sch-1"}},
		{"createTicket", map[string]any{"repo": "acme/app", "title": "schema", "idempotencyKey": "sch-2"}},
		{"recordPaymentEvent", map[string]any{"eventId": "evt_1Sch", "idempotencyKey": "sch-3"}},
		{"writeAudit", map[string]any{"provider": "p", "action": "a", "target": "t", "idempotencyKey": "sch-4"}},
	}
	for _, call := range calls {
		check(call.name, "succeeded", h.call(call.name, call.args))
		check(call.name, "replayed", h.call(call.name, call.args))
	}
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway})
	args := map[string]any{"repo": "acme/app", "title": "reconciled", "idempotencyKey": "sch-5"}
	require.True(t, h.call("createTicket", args).IsError)
	check("createTicket", "reconciled", h.call("createTicket", args))
}
