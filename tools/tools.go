// Package tools defines saas-mcp's MCP tools, one file each: the definition
// the agent sees (name, description, annotations, schemas from package
// schemas) and the handler the chain runs, written against small interfaces.
package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/schemas"
)

// Deps are what the tools need. A provider client is nil when its
// credentials are not set; the secrets middleware refuses the call first.
type Deps struct {
	Env    string
	Slack  slack.Client
	GitHub github.Client
	Stripe stripe.Client
	Ledger payments.Ledger
	Audit  audit.Sink
	Now    func() time.Time
	// Redactor is applied to what writeAudit echoes back, as the log does.
	Redactor *redact.Redactor
}

// Definition is one tool: what tools/list shows and what the chain runs.
type Definition struct {
	MCP   mcp.Tool
	Chain *chain.Tool
}

// All returns every tool, in the order tools/list shows them.
func All(d Deps) ([]Definition, error) {
	ctors := []func(Deps) (Definition, error){SendMessage, CreateTicket, RecordPaymentEvent, WriteAudit}
	out := make([]Definition, 0, len(ctors))
	for _, ctor := range ctors {
		def, err := ctor(d)
		if err != nil {
			return nil, err
		}
		out = append(out, def)
	}
	return out, nil
}

// hints are a tool's MCP annotations.
type hints struct {
	title                                    string
	readOnly, destructive, idempotent, world bool
}

// define builds the MCP tool from the embedded schemas. mcp.NewTool with a
// raw schema breaks tools/list, hence NewToolWithRawSchema.
//
// emptyIsAbsent names the optional arguments that the tool, and the
// provider behind it, take for not given when they are "", [] or {}: a call
// that sends them so is the same call as one that leaves them out, for its
// idempotency key (see idempotency.CallForm, which also reads the schema's
// defaults and uniqueItems sets).
func define(name, description string, h hints, t *chain.Tool, emptyIsAbsent ...string) (Definition, error) {
	in, err := schemas.Input(name)
	if err != nil {
		return Definition{}, err
	}
	form, err := idempotency.NewCallForm(in, emptyIsAbsent...)
	if err != nil {
		return Definition{}, fmt.Errorf("call form of %s: %w", name, err)
	}
	out, err := schemas.Output(name)
	if err != nil {
		return Definition{}, err
	}
	tool := mcp.NewToolWithRawSchema(name, description, in)
	tool.RawOutputSchema = out
	tool.Annotations = mcp.ToolAnnotation{
		Title:           h.title,
		ReadOnlyHint:    &h.readOnly,
		DestructiveHint: &h.destructive,
		IdempotentHint:  &h.idempotent,
		OpenWorldHint:   &h.world,
	}
	t.Name = name
	t.Form = form
	return Definition{MCP: tool, Chain: t}, nil
}

// arg returns a string argument for audit targets.
func arg(name string) func(map[string]any) string {
	return func(args map[string]any) string {
		s, _ := args[name].(string)
		return s
	}
}

// stringList reads an optional array-of-strings argument (already validated).
func stringList(args map[string]any, name string) []string {
	raw, _ := args[name].([]any)
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// displayKey is the key the agent sees: its own, or the derived one.
func displayKey(c *chain.Call) string { return c.Key }

func notConfigured(what string) error {
	return chain.Errorf(chain.KindCredential, "%s is not configured", what)
}

// describe returns a chain.Tool.Describe that names the given fields of a
// stored result in a replayed call's audit record (numbers kept exact).
func describe(fields ...string) func(json.RawMessage, string) map[string]any {
	return func(stored json.RawMessage, _ string) map[string]any {
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(stored))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return nil
		}
		out := map[string]any{}
		for _, f := range fields {
			if x, ok := v[f]; ok {
				out[f] = x
			}
		}
		return out
	}
}
