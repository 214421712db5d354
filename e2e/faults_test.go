package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// reconcileWant is what the suite expects the chain to have asked the
// provider after a fault.
type reconcileWant int

const (
	noReconcile     reconcileWant = iota // no doubt arose
	reconcileFound                       // the effect was found and returned
	reconcileAbsent                      // the effect was not there; sent once more
)

// faultCase is one row of the fault matrix.
type faultCase struct {
	name string
	id   string // short, path-safe: names the channel, repository and key
	// env is added to the first server's environment.
	env map[string]string
	// inject arms the fake before the first call.
	inject func(f *fakesaas.Server, tool effectTool)
	// provoke makes the first call, which meets the fault, and leaves a
	// server running on the same files. It returns the call's structured
	// result when the call succeeded despite the fault, else nil.
	provoke func(t *testing.T, h *harness, tool effectTool, id string) map[string]any
	// effectInFault says the faulted call's effect reached the provider, so
	// the settled result is that effect, replayed.
	effectInFault bool
	reconcile     reconcileWant
	// listedInDoubt says the restarted server must list the key in doubt.
	listedInDoubt bool
}

// TestEveryFaultLeavesExactlyOneEffect is the fault matrix of issue 3: for
// each fault and each effectful tool, the first call meets the fault, then
// the same call with the same key is repeated (on a restarted server when the
// fault killed it) until it succeeds. Afterwards the provider holds exactly
// one effect carrying the key, the settled result names that effect, and the
// audit trail satisfies checkTrail's invariant.
func TestEveryFaultLeavesExactlyOneEffect(t *testing.T) {
	t.Parallel()
	faults := []faultCase{
		{
			name: "a storm of 429 answers with Retry-After is waited out", id: "ratelimit",
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 3, Status: http.StatusTooManyRequests,
					Header: http.Header{"Retry-After": {"1"}}})
			},
			provoke:       expectSuccess,
			effectInFault: true, reconcile: noReconcile,
		},
		{
			name: "a 500 with no effect is sent once more after checking", id: "err500",
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Status: http.StatusInternalServerError})
			},
			provoke:       expectToolError,
			effectInFault: false, reconcile: reconcileAbsent,
		},
		{
			name: "a 502 after the provider committed is found, not repeated", id: "commit502",
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway})
			},
			provoke:       expectToolError,
			effectInFault: true, reconcile: reconcileFound,
		},
		{
			name: "a connection closed after commit is found, not repeated", id: "commitclose",
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenClose})
			},
			provoke:       expectToolError,
			effectInFault: true, reconcile: reconcileFound,
		},
		{
			name: "a response timeout after commit is found, not repeated", id: "commithang",
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenHang})
			},
			provoke:       expectToolError,
			effectInFault: true, reconcile: reconcileFound,
		},
		{
			name: "a slow provider and a client cancellation leave no effect, then one", id: "cancel",
			// A long timeout, so the cancellation, not the timeout, ends the call.
			env: map[string]string{"HTTP_TIMEOUT": "30s"},
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Delay: 10 * time.Second})
			},
			provoke:       cancelMidCall,
			effectInFault: false, reconcile: reconcileAbsent,
		},
		{
			name: "a client cancellation after the provider committed is found, not repeated", id: "cancellate",
			// A long timeout, so the cancellation, not the timeout, ends the call.
			env: map[string]string{"HTTP_TIMEOUT": "30s"},
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenHang})
			},
			provoke:       cancelMidCall,
			effectInFault: true, reconcile: reconcileFound,
		},
		{
			name: "a process killed before sending sends once after restart", id: "killbefore",
			env:           map[string]string{"SAAS_MCP_FAILPOINT": "before_send"},
			provoke:       crashAtFailpoint,
			effectInFault: false, reconcile: reconcileAbsent, listedInDoubt: true,
		},
		{
			name: "a process killed after sending finds its effect after restart", id: "killsend",
			// A long timeout, so the kill, not the timeout, ends the call.
			env: map[string]string{"HTTP_TIMEOUT": "30s"},
			inject: func(f *fakesaas.Server, tool effectTool) {
				f.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenHang})
			},
			provoke:       killAfterSend,
			effectInFault: true, reconcile: reconcileFound, listedInDoubt: true,
		},
		{
			name: "a process killed after the response finds its effect after restart", id: "killresponse",
			env:           map[string]string{"SAAS_MCP_FAILPOINT": "after_response"},
			provoke:       crashAtFailpoint,
			effectInFault: true, reconcile: reconcileFound, listedInDoubt: true,
		},
		{
			name: "a process killed after the commit replays its result after restart", id: "killcommit",
			env:           map[string]string{"SAAS_MCP_FAILPOINT": "after_commit"},
			provoke:       crashAtFailpoint,
			effectInFault: true, reconcile: noReconcile,
		},
	}
	for _, fc := range faults {
		for _, tool := range effectTools {
			t.Run(tool.name+": "+fc.name, func(t *testing.T) {
				t.Parallel()
				runFaultCase(t, fc, tool)
			})
		}
	}
}

func runFaultCase(t *testing.T, fc faultCase, tool effectTool) {
	h := start(t, fastEnv(fc.env))
	id := fc.id
	args := tool.args(id)
	key := args["idempotencyKey"].(string)
	if fc.inject != nil {
		fc.inject(h.fake, tool)
	}

	first := fc.provoke(t, h, tool, id)
	out := settle(t, h.session, tool.name, args)

	effects := tool.effects(h.fake, id)
	require.Len(t, effects, 1, "exactly one effect at the provider; stderr: %s", h.stderr.String())
	assert.Equal(t, key, effects[0].key, "the effect carries the key in its marker")
	assert.Equal(t, effects[0].ref, tool.ref(out), "the settled result names the one effect")
	assert.Equal(t, key, out["idempotencyKey"])
	assert.Equal(t, fc.effectInFault, out["replayed"], "replayed exactly when the effect came from the faulted call")
	if first != nil {
		assert.Equal(t, effects[0].ref, tool.ref(first))
	}

	// One more repeat is a plain replay from the store, with no new effect.
	again := settle(t, h.session, tool.name, args)
	assert.Equal(t, true, again["replayed"])
	assert.Equal(t, tool.ref(out), tool.ref(again))
	assert.Len(t, tool.effects(h.fake, id), 1)

	recs := h.records()
	checkTrail(t, recs, key)
	reconciled := func(found bool) func(audit.Record) bool {
		return func(r audit.Record) bool {
			got, _ := r.Details["found"].(bool)
			return r.Status == audit.StatusReconciled && got == found
		}
	}
	switch fc.reconcile {
	case noReconcile:
		assert.False(t, hasRecord(recs, key, func(r audit.Record) bool { return r.Status == audit.StatusReconciled }),
			"no doubt arose, so nothing was reconciled")
	case reconcileFound:
		assert.True(t, hasRecord(recs, key, reconciled(true)), "a reconciled record says the effect was found")
	case reconcileAbsent:
		assert.True(t, hasRecord(recs, key, reconciled(false)), "a reconciled record says the effect was not there")
	}
	if fc.listedInDoubt {
		assert.True(t, hasRecord(recs, key, func(r audit.Record) bool { return r.Action == "idempotency.in_doubt" }),
			"the restarted server listed the key in doubt")
	}
}

// expectSuccess makes the first call and requires it to succeed.
func expectSuccess(t *testing.T, h *harness, tool effectTool, id string) map[string]any {
	t.Helper()
	args := tool.args(id)
	out := structured(t, h.call(tool.name, args))
	assert.Equal(t, false, out["replayed"])
	return out
}

// expectToolError makes the first call and requires a tool error that tells
// the agent to repeat the call with the same key.
func expectToolError(t *testing.T, h *harness, tool effectTool, id string) map[string]any {
	t.Helper()
	args := tool.args(id)
	res := h.call(tool.name, args)
	require.True(t, res.IsError, "the fault surfaces as a tool error")
	assert.Contains(t, text(res), "same idempotencyKey", "the error tells the agent how to retry")
	return nil
}

// cancelMidCall cancels the first call once the provider has the request
// and has not answered; the SDK client then sends notifications/cancelled.
func cancelMidCall(t *testing.T, h *harness, tool effectTool, id string) map[string]any {
	t.Helper()
	args := tool.args(id)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := try(ctx, h.session, tool.name, args)
		done <- err
	}()
	waitFor(t, 10*time.Second, "the request at the provider", func() bool { return h.fake.Count("POST", tool.path) > 0 })
	cancel()
	cancelled := time.Now()
	require.ErrorIs(t, <-done, context.Canceled)
	// The rows using this run with HTTP_TIMEOUT=30s and a provider slower
	// than 10 s, so a terminal record within 10 s of the cancellation, saying
	// so, shows the cancellation ended the call, not a timeout or the
	// provider's late answer.
	key := args["idempotencyKey"].(string)
	var term audit.Record
	waitFor(t, 10*time.Second, "the cancelled call's terminal record", func() bool {
		for _, r := range h.records() {
			if r.IdempotencyKey == key && isTerminal(r.Status) {
				term = r
				return true
			}
		}
		return false
	})
	assert.Less(t, time.Since(cancelled), 10*time.Second, "the call ended well before HTTP_TIMEOUT")
	assert.Equal(t, audit.StatusFailed, term.Status, "the cancelled call failed: %+v", term)
	assert.Contains(t, term.Error, context.Canceled.Error(), "the terminal record says the client cancelled the call")
	return nil
}

// crashAtFailpoint makes the first call on a server armed to kill itself
// at a point of the call, then restarts it unarmed on the same files.
func crashAtFailpoint(t *testing.T, h *harness, tool effectTool, id string) map[string]any {
	t.Helper()
	args := tool.args(id)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := try(ctx, h.session, tool.name, args)
	require.Error(t, err, "the server died mid-call")
	h.restart(map[string]string{"SAAS_MCP_FAILPOINT": ""})
	return nil
}

// killAfterSend kills the server with SIGKILL from outside once the
// provider holds the effect but before any answer came back, then restarts
// it on the same files.
func killAfterSend(t *testing.T, h *harness, tool effectTool, id string) map[string]any {
	t.Helper()
	args := tool.args(id)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := try(ctx, h.session, tool.name, args)
		done <- err
	}()
	waitFor(t, 10*time.Second, "the effect at the provider", func() bool {
		return len(tool.effects(h.fake, id)) == 1
	})
	require.NoError(t, h.cmd.Process.Kill())
	require.Error(t, <-done, "the call died with the server")
	h.restart(nil)
	return nil
}

// TestAnAmbiguousThreadReplyIsFoundInItsThread posts a reply into a thread
// and loses the answer after Slack stored it: channel history lists only
// thread parents, so reconciliation must look inside the thread to find the
// reply instead of posting it twice.
func TestAnAmbiguousThreadReplyIsFoundInItsThread(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(nil))
	parent := structured(t, h.call("sendMessage", map[string]any{"channel": "Cthread", "text": "release 1.2", "idempotencyKey": "parent"}))
	reply := map[string]any{"channel": "Cthread", "text": "rolled back", "threadTs": parent["ts"], "idempotencyKey": "reply"}
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: sendMessageTool.path, Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway})

	res := h.call("sendMessage", reply)
	require.True(t, res.IsError)
	out := settle(t, h.session, "sendMessage", reply)

	var replies []fakesaas.SlackMessage
	for _, m := range h.fake.SlackMessages("Cthread") {
		if m.ThreadTS == parent["ts"] {
			replies = append(replies, m)
		}
	}
	require.Len(t, replies, 1, "one reply in the thread")
	assert.Equal(t, true, out["replayed"])
	assert.Equal(t, replies[0].TS, out["ts"])
	checkTrail(t, h.records(), "reply")
}

// TestAFailedCheckSendsNothingAndTheNextCheckFindsTheEffect loses the
// answer after the provider committed, then fails the reconciliation's
// read as well: the repeat must send nothing and say the check failed; the
// repeat after it finds the one effect.
func TestAFailedCheckSendsNothingAndTheNextCheckFindsTheEffect(t *testing.T) {
	t.Parallel()
	for _, tool := range effectTools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, fastEnv(map[string]string{"HTTP_MAX_ATTEMPTS": "2"}))
			h.fake.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway})
			h.fake.Inject(fakesaas.Fault{Method: tool.findMethod, Path: tool.findPath, Times: 2, Status: http.StatusServiceUnavailable})
			args := tool.args("checkfails")

			require.True(t, h.call(tool.name, args).IsError)
			res := h.call(tool.name, args)
			require.True(t, res.IsError, "the check failed, so the repeat must not act")
			assert.Contains(t, text(res), "nothing was sent")
			assert.Len(t, tool.effects(h.fake, "checkfails"), 1, "still the one effect")

			out := settle(t, h.session, tool.name, args)
			effects := tool.effects(h.fake, "checkfails")
			require.Len(t, effects, 1)
			assert.Equal(t, true, out["replayed"])
			assert.Equal(t, effects[0].ref, tool.ref(out))
			checkTrail(t, h.records(), "key-checkfails")
		})
	}
}

// TestAnAmbiguousMessageToAChannelNameIsFoundByItsID sends to "#general"
// and loses the answer after Slack posted: history takes only conversation
// IDs, so the repeat must resolve the name first, find the one message and
// answer with the channel ID, as the first call would have.
func TestAnAmbiguousMessageToAChannelNameIsFoundByItsID(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(nil))
	args := map[string]any{"channel": "#general", "text": "deploy done", "idempotencyKey": "by-name"}
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: sendMessageTool.path, Times: 1, Mode: fakesaas.CommitThenClose})

	require.True(t, h.call("sendMessage", args).IsError)
	out := settle(t, h.session, "sendMessage", args)

	msgs := h.fake.SlackMessages("C0GENERAL")
	require.Len(t, msgs, 1, "one message in #general")
	assert.Equal(t, true, out["replayed"])
	assert.Equal(t, "C0GENERAL", out["channel"])
	assert.Equal(t, msgs[0].TS, out["ts"])
	checkTrail(t, h.records(), "by-name")
}
