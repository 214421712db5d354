// Package mcpserver exposes the tools over MCP with mark3labs/mcp-go: every
// tools/call is turned into a chain.Call and run through the one chain.
//
// mcp-go's own input validation is left off on purpose: it runs before tool
// middleware, so rejected calls would go unaudited, and its messages do not
// name fields well. The chain's validate middleware does it instead.
package mcpserver

import (
	"context"
	"encoding/json"
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
	// Middlewares are the chain, outermost first, applied to every tool.
	Middlewares []chain.Middleware
	// Actor overrides the audit actor (AUDIT_ACTOR); default: the client's
	// clientInfo.name.
	Actor    string
	Env      string
	Redactor *redact.Redactor
	Log      *slog.Logger
}

// New builds the MCP server with every tool registered behind the chain.
func New(o Options) *server.MCPServer {
	s := server.NewMCPServer(o.Name, o.Version,
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions("Business tools for Slack, GitHub and Stripe. Every call is audited and idempotent: when retrying a call, pass the same idempotencyKey and it will not act twice."),
	)
	for _, def := range o.Tools {
		h := chain.Wrap(chain.Final, o.Middlewares...)
		s.AddTool(def.MCP, o.handler(s, def.Chain, h))
	}
	return s
}

func (o Options) handler(s *server.MCPServer, t *chain.Tool, h chain.Handler) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.GetArguments()
		if args == nil {
			args = map[string]any{}
		}
		call := chain.NewCall(t, args, o.actor(ctx), o.Env, uuid.NewString())
		ctx = httpx.WithObserver(ctx, observer(ctx, s, call, req))
		ctx = httpx.WithCallBudget(ctx) // HTTP_MAX_CALL_WAIT is per tool call

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
func observer(ctx context.Context, s *server.MCPServer, call *chain.Call, req mcp.CallToolRequest) func(httpx.Event) {
	var token mcp.ProgressToken
	if req.Params.Meta != nil {
		token = req.Params.Meta.ProgressToken
	}
	step := 0.0
	return func(ev httpx.Event) {
		if ev.Wait == 0 {
			call.NoteAttempt()
			return
		}
		if token == nil {
			return
		}
		step++
		msg := "waiting " + ev.Wait.Round(time.Millisecond).String() + " before attempt " + strconv.Itoa(ev.Attempt)
		if ev.Reason != "" {
			msg += ": " + ev.Reason
		}
		_ = s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
			"progressToken": token,
			"progress":      step,
			"message":       msg,
		})
	}
}
