package e2e

// Helpers for the one-effect-per-key suite (faults, crashes, concurrency):
// the two effectful tools described once, restarting a server on the same
// files, repeating a call until it settles, and the audit-trail invariant.

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// fastEnv gives the server the fake's credentials and short timeouts, so a
// response that never comes costs one second, plus extra.
func fastEnv(extra map[string]string) func(*fakesaas.Server) map[string]string {
	return func(f *fakesaas.Server) map[string]string {
		vars := withAllCredentials(f)
		vars["HTTP_TIMEOUT"] = "1s"
		vars["HTTP_MAX_WAIT"] = "2s"
		vars["HTTP_MAX_CALL_WAIT"] = "8s"
		maps.Copy(vars, extra)
		return vars
	}
}

// effect is one side effect the fake holds: its reference (Slack ts, GitHub
// issue number) and the idempotency key its marker carries.
type effect struct {
	ref string
	key string
}

// effectTool is an effectful tool as the suite drives and checks it.
type effectTool struct {
	name string
	// path is the provider endpoint the tool POSTs to, and findMethod and
	// findPath the request reconciliation reads with, for fault injection.
	path, findMethod, findPath string
	// args are the arguments of a call for the test case id.
	args func(id string) map[string]any
	// effects lists what the fake holds for case id.
	effects func(f *fakesaas.Server, id string) []effect
	// ref is the reference of the effect a successful result names.
	ref func(out map[string]any) string
}

var (
	sendMessageTool = effectTool{
		name: "sendMessage",
		// slack-go POSTs every Web API method, reads included.
		path: "/api/chat.postMessage", findMethod: "POST", findPath: "/api/conversations.history",
		args: func(id string) map[string]any {
			return map[string]any{"channel": "C" + id, "text": "deploy " + id, "idempotencyKey": "key-" + id}
		},
		effects: func(f *fakesaas.Server, id string) []effect {
			var out []effect
			for _, m := range f.SlackMessages("C" + id) {
				e := effect{ref: m.TS}
				if m.Metadata != nil {
					e.key, _ = m.Metadata.EventPayload["idempotency_key"].(string)
				}
				out = append(out, e)
			}
			return out
		},
		ref: func(out map[string]any) string { s, _ := out["ts"].(string); return s },
	}
	createTicketTool = effectTool{
		name: "createTicket",
		path: "/repos/", findMethod: "GET", findPath: "/repos/",
		args: func(id string) map[string]any {
			return map[string]any{"repo": "acme/" + id, "title": "Broken " + id, "body": "details", "idempotencyKey": "key-" + id}
		},
		effects: func(f *fakesaas.Server, id string) []effect {
			var out []effect
			for _, i := range f.GitHubIssues("acme/" + id) {
				out = append(out, effect{ref: fmt.Sprint(i.Number), key: markerKey(i.Body)})
			}
			return out
		},
		ref: func(out map[string]any) string {
			n, ok := out["number"].(float64)
			if !ok {
				return ""
			}
			return fmt.Sprint(int(n))
		},
	}
	effectTools = []effectTool{sendMessageTool, createTicketTool}
)

// markerKey reads the key out of the hidden marker that ends an issue body.
func markerKey(body string) string {
	const prefix = "<!-- saas-mcp:key="
	i := strings.LastIndex(body, prefix)
	if i < 0 {
		return ""
	}
	rest, _, _ := strings.Cut(body[i+len(prefix):], " -->")
	k, err := url.QueryUnescape(rest)
	if err != nil {
		return ""
	}
	return k
}

// try calls a tool and returns the transport error instead of failing, for
// calls whose server dies or whose context is cancelled on purpose.
func try(ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, error) {
	return s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

// callOn calls a tool on a session and fails the test on a transport error.
func callOn(t *testing.T, s *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := try(ctx, s, name, args)
	require.NoError(t, err)
	return res
}

// stop ends the running server process (if it still runs) and its session.
func (h *harness) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGKILL) // already gone: an error we do not need
	_ = h.session.Close()                     // reaps the process
}

// restart starts a new server on the same data directory and audit log,
// after stopping the current one; overrides change its environment ("" removes
// a variable).
func (h *harness) restart(overrides map[string]string) {
	h.t.Helper()
	h.stop()
	maps.Copy(h.vars, overrides)
	h.session = h.connect(h.vars)
}

// settle repeats a call until it succeeds, as an agent told "retry with the
// same key" would: a call still in progress or in doubt is tried again, up
// to a bound. It returns the successful result.
func settle(t *testing.T, s *mcp.ClientSession, name string, args map[string]any) map[string]any {
	t.Helper()
	var last string
	for range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := try(ctx, s, name, args)
		cancel()
		require.NoError(t, err)
		if !res.IsError {
			return structured(t, res)
		}
		last = text(res)
		require.True(t, retryable(last), "a repeat with the same key failed for good: %s", last)
		time.Sleep(150 * time.Millisecond)
	}
	t.Fatalf("call did not settle; last error: %s", last)
	return nil
}

// retryable reports the tool errors after which repeating the same call
// with the same key is the documented thing to do.
func retryable(msg string) bool {
	return strings.Contains(msg, "in progress") || strings.Contains(msg, "same idempotencyKey") ||
		strings.Contains(msg, "retry with the same key")
}

// checkTrail checks the audit invariant of one idempotency key.
//
// The invariant, for the records of key (in log order):
//
//   - T1 Every tool call (callId) begins with one "started" record and has at
//     most one terminal record (succeeded, failed, replayed, rejected).
//   - T2 A call without a terminal record was cut short by a killed process.
//     It must be covered by a later record of the key that explains it: the
//     restarted server's "idempotency.in_doubt" listing, a "reconciled"
//     record (a later call asked the provider), or a "replayed" terminal
//     record (the key was committed before the kill, so the later call
//     returned the orphan's stored effect).
//   - T3 No blind resend: once the effect may exist without a stored result
//     (an orphaned call, or a "failed" record marked inDoubt), every later
//     call that ends "succeeded" (it sent anew) has first written a
//     "reconciled" record saying the provider did not have the effect.
//   - T4 At most one call ends "succeeded", and the key's last terminal
//     record other than "rejected" (calls refused before acting, such as
//     "in progress") is "succeeded" or "replayed": the key settled on one
//     effect.
func checkTrail(t *testing.T, recs []audit.Record, key string) {
	t.Helper()
	calls, order, lastTerminal, succeeded := walkTrail(t, recs, key)
	require.NotEmpty(t, order, "no tool call with key %s in the audit log", key)

	doubtAt := len(recs) // the first point where the effect may exist unstored
	for _, id := range order {
		c := calls[id]
		if c.terminal < 0 {
			require.True(t, coveredAfter(recs, key, c.started), "T2: call %s (killed) is explained by no later record", id)
			doubtAt = min(doubtAt, c.started)
		} else if inDoubt, _ := recs[c.terminal].Details["inDoubt"].(bool); inDoubt {
			doubtAt = min(doubtAt, c.terminal)
		}
	}
	for _, id := range order {
		c := calls[id]
		if c.terminal >= 0 && recs[c.terminal].Status == audit.StatusSucceeded && c.started > doubtAt {
			require.True(t, c.reconciledNotFound, "T3: call %s sent again after the key was in doubt without reconciling", id)
		}
	}
	require.LessOrEqual(t, succeeded, 1, "T4: more than one call with key %s sent and succeeded", key)
	require.Contains(t, []string{audit.StatusSucceeded, audit.StatusReplayed}, lastTerminal, "T4: key %s did not settle", key)
}

// trailCall is one tool call of a key in the audit log: the indexes into
// recs of its started and terminal records (-1 when absent), and whether a
// reconciliation of it found nothing.
type trailCall struct {
	started, terminal  int
	reconciledNotFound bool
}

// walkTrail checks T1 for key's records (each call begins with started and
// has at most one terminal record) and returns its calls by call id, their
// ids in order, the key's last terminal status other than rejected, and how
// many calls succeeded.
func walkTrail(t *testing.T, recs []audit.Record, key string) (calls map[string]*trailCall, order []string, lastTerminal string, succeeded int) {
	t.Helper()
	calls = map[string]*trailCall{}
	for i, r := range recs {
		if r.IdempotencyKey != key || r.CallID == "" {
			continue
		}
		c, seen := calls[r.CallID]
		switch {
		case !seen:
			require.Equal(t, audit.StatusStarted, r.Status, "T1: call %s begins with started", r.CallID)
			calls[r.CallID] = &trailCall{started: i, terminal: -1}
			order = append(order, r.CallID)
			continue
		case r.Status == audit.StatusReconciled:
			if found, _ := r.Details["found"].(bool); !found {
				c.reconciledNotFound = true
			}
			continue
		}
		require.True(t, isTerminal(r.Status), "T1: unexpected %q record for call %s", r.Status, r.CallID)
		require.Equal(t, -1, c.terminal, "T1: call %s has two terminal records", r.CallID)
		c.terminal = i
		if r.Status != audit.StatusRejected {
			lastTerminal = r.Status // a rejected call acted on nothing
		}
		if r.Status == audit.StatusSucceeded {
			succeeded++
		}
	}
	return calls, order, lastTerminal, succeeded
}

func isTerminal(status string) bool {
	switch status {
	case audit.StatusSucceeded, audit.StatusFailed, audit.StatusReplayed, audit.StatusRejected:
		return true
	}
	return false
}

// coveredAfter reports whether a record after index i explains an orphaned
// call of key (see checkTrail, T2).
func coveredAfter(recs []audit.Record, key string, i int) bool {
	for _, r := range recs[i+1:] {
		if r.IdempotencyKey != key {
			continue
		}
		if r.Action == "idempotency.in_doubt" || r.Status == audit.StatusReconciled || r.Status == audit.StatusReplayed {
			return true
		}
	}
	return false
}

// hasRecord reports whether some record of key matches.
func hasRecord(recs []audit.Record, key string, match func(audit.Record) bool) bool {
	for _, r := range recs {
		if r.IdempotencyKey == key && match(r) {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
