// Package mcpserver exposes the tools over MCP with mark3labs/mcp-go: every
// tools/call is turned into a chain.Call and run through the one chain.
//
// mcp-go's own input validation is left off on purpose: it runs before tool
// middleware, so rejected calls would go unaudited, and its messages do not
// name fields well. The chain's validate middleware does it instead.
//
// Arguments that are not a JSON object are refused by this package's own
// middleware, which runs right inside the audit middleware (Options.Audit)
// so that the refusal is audited. A call the client cancelled before it
// started runs the chain with its context already cancelled (see
// Cancellations): the audit middleware still records it, and the
// idempotency middleware refuses it before anything is claimed or sent.
package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/tools"
)

// Options configure the MCP server.
type Options struct {
	Name, Version string
	Tools         []tools.Definition
	// Audit is the chain's outermost middleware, the one that records every
	// call. New puts its own middleware right inside it; see the package doc.
	Audit chain.Middleware
	// Middlewares are the rest of the chain, outermost first, applied to
	// every tool.
	Middlewares []chain.Middleware
	// Cancellations, when set, carries the client's cancellations of calls
	// not yet started to them (see Cancellations); the server's input must
	// be read through its Watch.
	Cancellations *Cancellations
	// Progress, when set, keeps the progress notifications in step with
	// the responses (see Progress); the server's output must be written
	// through its Output. Without it they are sent unchecked, and one can
	// be written after its call's response.
	Progress *Progress
	// Actor overrides the audit actor (AUDIT_ACTOR); default: the client's
	// clientInfo.name.
	Actor    string
	Env      string
	Redactor *redact.Redactor
	Log      *slog.Logger
}

// New builds the MCP server with every tool registered behind the chain.
func New(o Options) *server.MCPServer {
	opts := []server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions("Business tools for Slack, GitHub and Stripe. Every call is audited and idempotent: when retrying a call, pass the same idempotencyKey and it will not act twice."),
	}
	if o.Cancellations != nil {
		hooks := &server.Hooks{}
		hooks.AddBeforeCallTool(o.Cancellations.beforeCallTool)
		opts = append(opts, server.WithHooks(hooks))
	}
	s := server.NewMCPServer(o.Name, o.Version, opts...)
	mws := make([]chain.Middleware, 0, len(o.Middlewares)+2)
	if o.Audit != nil {
		mws = append(mws, o.Audit)
	}
	mws = append(mws, fromRequest)
	mws = append(mws, o.Middlewares...)
	for _, def := range o.Tools {
		h := chain.Wrap(chain.Final, mws...)
		s.AddTool(def.MCP, o.handler(s, def.Chain, h, optionalFields(def.MCP.RawInputSchema)))
	}
	return s
}

func (o Options) handler(s *server.MCPServer, t *chain.Tool, h chain.Handler, optional map[string]bool) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if sent, ok := argumentsAsSent(ctx); ok {
			req.Params.RawArguments = sent // see wirenumbers.go
		}
		args, notObject := arguments(req)
		args = dropNullOptionals(args, optional)
		call := chain.NewCall(t, args, o.actor(ctx), o.Env, uuid.NewString())
		if cancelledBeforeStart(req) {
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(ctx)
			cancel(errCancelledBeforeStart)
		}
		prog := startProgress(o.Progress, progressToken(req), sender(ctx, s))
		defer prog.end() // before mcp-go writes the response
		ctx = httpx.WithObserver(ctx, observer(call, prog))
		ctx = httpx.WithCallBudget(ctx) // HTTP_MAX_CALL_WAIT is per tool call
		if notObject != "" {
			ctx = context.WithValue(ctx, notObjectKey{}, notObject)
		}

		res, err := h(ctx, call)
		if err != nil {
			return mcp.NewToolResultError(o.Redactor.String(err.Error())), nil
		}
		return &mcp.CallToolResult{
			Content:           []mcp.Content{mcp.NewTextContent(string(res.Value))},
			StructuredContent: json.RawMessage(res.Value),
		}, nil
	}
}

// actor is AUDIT_ACTOR, else the MCP client's clientInfo.name.
func (o Options) actor(ctx context.Context) string {
	if o.Actor != "" {
		return o.Actor
	}
	if sess, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		if name := sess.GetClientInfo().Name; name != "" {
			return name
		}
	}
	return "unknown"
}

// observer counts provider attempts for the audit record and, when the
// client sent a progress token, tells it why the call is waiting.
func observer(call *chain.Call, prog *callProgress) func(httpx.Event) {
	return func(ev httpx.Event) {
		if ev.Wait == 0 {
			call.NoteAttempt()
			return
		}
		if prog == nil {
			return
		}
		msg := "waiting " + ev.Wait.Round(time.Millisecond).String() + " before attempt " + strconv.Itoa(ev.Attempt)
		if ev.Reason != "" {
			msg += ": " + ev.Reason
		}
		prog.notify(msg)
	}
}

// progressToken is the token the client sent for progress, nil if none.
func progressToken(req mcp.CallToolRequest) mcp.ProgressToken {
	if req.Params.Meta == nil {
		return nil
	}
	return req.Params.Meta.ProgressToken
}

// errCancelledBeforeStart is the cause of a call's cancellation when the
// client cancelled it before a worker started it.
var errCancelledBeforeStart = errors.New("the client cancelled the call before it started")

// arguments returns the call's arguments, {} when absent (null or left
// out), and for arguments that are not a JSON object what they are instead
// (array, string, ...), so that the call is refused as such rather than
// taken for {} and told to add the fields it sent.
//
// They are decoded from the arguments as the client wrote them, numbers as
// json.Number: mcp-go's own decoding makes every number a float64, which
// rounds integers past 2^53, so two calls that differ only there would
// share an args hash (one taken for a replay of the other) and the tool
// would act on, and the audit log record, a number the agent never sent.
func arguments(req mcp.CallToolRequest) (map[string]any, string) {
	if n := len(req.Params.RawArguments); n > MaxArgumentBytes {
		return map[string]any{}, fmt.Sprintf("too large: %d bytes, at most %d", n, MaxArgumentBytes)
	}
	v := decodeArguments(req)
	if what := notAnObject(v); what != "" {
		return map[string]any{}, "must be an object, got " + what
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}, ""
	}
	return m, ""
}

// optionalFields returns the properties of a tool's input schema that are
// not required.
func optionalFields(schema json.RawMessage) map[string]bool {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	out := make(map[string]bool, len(s.Properties))
	for name := range s.Properties {
		out[name] = true
	}
	for _, name := range s.Required {
		delete(out, name)
	}
	return out
}

// dropNullOptionals takes an optional argument sent as null for absent, as
// most clients mean it (function-calling APIs in strict mode make every
// field required and send null for the ones not wanted), before anything
// else sees the arguments: the schema, the idempotency key's hash (so
// {"threadTs": null} and {} are the same call), the tool and the audit log.
// A required field sent as null is kept, and refused by the schema. args is
// not modified; a copy is returned when something is dropped.
func dropNullOptionals(args map[string]any, optional map[string]bool) map[string]any {
	var out map[string]any
	for k, v := range args {
		if v != nil || !optional[k] {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(args))
			for k2, v2 := range args {
				out[k2] = v2
			}
		}
		delete(out, k)
	}
	if out == nil {
		return args
	}
	return out
}

// MaxArgumentBytes bounds a call's arguments as the client wrote them. The
// largest valid call (a 60,000-character issue body, every character
// escaped) is well within it; far larger ones would hold one of mcp-go's
// few workers for seconds in the schema library before being refused.
const MaxArgumentBytes = 1 << 20

// notAnObject says what decoded arguments are when they are not a JSON
// object (array, string, ...), "" when they are one or absent.
func notAnObject(v any) string {
	switch v := v.(type) {
	case map[string]any, nil:
		return ""
	case []any:
		return "array"
	case string:
		var obj map[string]any
		if json.Unmarshal([]byte(v), &obj) == nil && obj != nil {
			return "a string holding a JSON object; send the object itself, not encoded into a string"
		}
		return "string"
	case bool:
		return "boolean"
	case float64, json.Number:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// decodeArguments decodes the arguments as the client wrote them.
func decodeArguments(req mcp.CallToolRequest) any {
	v := req.Params.Arguments
	if raw := req.Params.RawArguments; len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var exact any
		// mcp-go decoded these same bytes into Arguments already, so this
		// cannot fail; if it did, Arguments is still what the client sent.
		if dec.Decode(&exact) == nil {
			v = exact
		}
	}
	return v
}

// notObjectKey carries, to fromRequest, what is wrong with a call's
// arguments as a whole: not a JSON object, or too large.
type notObjectKey struct{}

// fromRequest is the chain middleware that refuses arguments that are not
// an object, or too large. New puts it right inside the audit middleware, so the
// refusal is audited.
func fromRequest(next chain.Handler) chain.Handler {
	return func(ctx context.Context, c *chain.Call) (chain.Result, error) {
		if what, _ := ctx.Value(notObjectKey{}).(string); what != "" {
			return chain.Result{}, chain.Errorf(chain.KindInvalid, "invalid arguments for %s: arguments: %s", c.Tool.Name, what)
		}
		return next(ctx, c)
	}
}
