package e2e

import (
	"maps"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// TestASandboxServerNeverReplaysALiveServersResultFromASharedDataDir runs a live
// serve and a sandbox serve on one DATA_DIR (as the README's advice of one
// absolute DATA_DIR for every session leads to: one project live, one in
// sandbox). The live one records a live-mode Stripe event; the sandbox one
// is then asked for the same event. On its own, the sandbox server cannot
// get a live-mode event (its test key reads test-mode events only, and it
// refuses live-mode data: "sandbox rule"); "Sandbox and live never mix"
// must hold on a shared DATA_DIR too, in both directions. Today the second
// server replays the first one's result from the shared key table.
func TestASandboxServerNeverReplaysALiveServersResultFromASharedDataDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		firstEnv, secEnv string
		firstKey, secKey string
		livemode         bool
	}{
		{"live then sandbox", "live", "sandbox", fakesaas.StripeLiveKey, fakesaas.StripeKey, true},
		{"sandbox then live", "sandbox", "live", fakesaas.StripeKey, fakesaas.StripeLiveKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, func(f *fakesaas.Server) map[string]string {
				return map[string]string{"INTEGRATION_ENV": tt.firstEnv, "STRIPE_SECRET_KEY": tt.firstKey}
			})
			h.fake.AddStripeEvent(fakesaas.PaymentIntentSucceeded("evt_mix1",
				fakesaas.Payment{Customer: "cus_real", Amount: 99900, Currency: "usd", Livemode: tt.livemode}))
			first := structured(t, h.call("recordPaymentEvent", map[string]any{"eventId": "evt_mix1"}))
			require.Equal(t, "cus_real", first["customer"])

			vars := maps.Clone(h.vars)
			vars["INTEGRATION_ENV"] = tt.secEnv
			vars["STRIPE_SECRET_KEY"] = tt.secKey
			other, _ := h.dial(vars) // same DATA_DIR and AUDIT_LOG_PATH
			res := callOn(t, other, "recordPaymentEvent", map[string]any{"eventId": "evt_mix1"})
			assert.True(t, res.IsError, "the %s server must not hand out the %s server's event; got %s", tt.secEnv, tt.firstEnv, text(res))
			assert.NotContains(t, text(res), "cus_real")
		})
	}
}

// TestALiveWriteAuditIsRecordedEvenAfterTheSameSandboxRecord: a live serve and
// a sandbox serve share DATA_DIR and AUDIT_LOG_PATH. The sandbox session
// records an outside action with writeAudit; a live session records the
// same action (same arguments, no key) within IDEMPOTENCY_WINDOW. The live
// record must be written, with env "live": today it is deduplicated against
// the sandbox one, and the live agent is shown the sandbox record.
func TestALiveWriteAuditIsRecordedEvenAfterTheSameSandboxRecord(t *testing.T) {
	t.Parallel()
	h := start(t, func(f *fakesaas.Server) map[string]string {
		return map[string]string{"INTEGRATION_ENV": "sandbox"}
	})
	args := map[string]any{"provider": "stripe", "action": "refund", "target": "ch_1"}
	first := structured(t, h.call("writeAudit", args))
	require.Equal(t, "sandbox", first["env"])

	vars := maps.Clone(h.vars)
	vars["INTEGRATION_ENV"] = "live"
	other, _ := h.dial(vars)
	res := callOn(t, other, "writeAudit", args)
	require.False(t, res.IsError, text(res))
	second := structured(t, res)
	assert.Equal(t, "live", second["env"], "the live session is shown the sandbox session's record: %v", second)

	var envs []string
	for _, r := range h.records() {
		if r.Action == "refund" && r.Target == "ch_1" {
			envs = append(envs, r.Env)
		}
	}
	assert.Equal(t, []string{"sandbox", "live"}, envs, "one record per environment in the shared audit log")
}

// TestARetryInAServerWithAnotherGitHubTokenOpensNoSecondIssue: two serves
// share one DATA_DIR (the README's advice of one absolute DATA_DIR for
// every session), each with its own GitHub token: a developer's token in
// one session, a bot's in another. The first server's createTicket times
// out after GitHub created the issue, leaving the key in doubt. The same
// call, same key, then reaches the second server. "One effect per key ...
// among all saas-mcp processes that share one DATA_DIR": it must find the
// issue (or refuse), never open a second one.
//
// The claim records the user the first attempt was sent as, and the retry
// looks among that user's issues. A server's first createTicket is claimed
// before it may ask GitHub who its token is: a retry of it elsewhere
// refuses an issue of another user, and the first server, whose own it
// is, finds it.
func TestARetryInAServerWithAnotherGitHubTokenOpensNoSecondIssue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		openedOne   bool // the first server had opened an issue before
		wantRefusal string
	}{
		{name: "the first server had opened an issue before", openedOne: true},
		{name: "it was the first server's first createTicket", wantRefusal: "opened by dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const devToken, botToken = "ghp_review0dev0token", "ghp_review0bot0token"
			fake := fakesaas.New(fakesaas.WithGitHubToken(devToken, "dev"), fakesaas.WithGitHubToken(botToken, "ci-bot"))
			t.Cleanup(fake.Close)
			h := &harness{t: t, fake: fake, dir: t.TempDir(), stderr: &lockedBuffer{},
				progress: make(chan *mcp.ProgressNotificationParams, 64)}
			h.auditLog = filepath.Join(h.dir, "logs", "audit.ndjson")
			h.vars = map[string]string{
				"AUDIT_LOG_PATH": h.auditLog, "DATA_DIR": filepath.Join(h.dir, "data"),
				"GITHUB_API_URL": fake.GitHubAPIURL(), "GITHUB_WRITE_INTERVAL": "0",
				"GITHUB_TOKEN": devToken, "HTTP_TIMEOUT": "1s", "HTTP_MAX_WAIT": "1s", "HTTP_MAX_CALL_WAIT": "5s",
				"RECONCILE_SETTLE": "100ms",
			}
			h.session = h.connect(h.vars)
			botVars := maps.Clone(h.vars)
			botVars["GITHUB_TOKEN"] = botToken
			bot, _ := h.dial(botVars)
			if tt.openedOne {
				structured(t, h.call("createTicket", map[string]any{"repo": "acme/earlier", "title": "Earlier"}))
			}

			fake.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenHang})
			args := map[string]any{"repo": "acme/tokens", "title": "Broken login", "body": "details", "idempotencyKey": "key-tokens"}
			first := h.call("createTicket", args)
			require.True(t, first.IsError, "the first call timed out: %s", text(first))
			require.Len(t, fake.GitHubIssues("acme/tokens"), 1, "GitHub created the issue")

			res := callOn(t, bot, "createTicket", args)
			issues := fake.GitHubIssues("acme/tokens")
			require.Len(t, issues, 1, "one issue per key among processes sharing DATA_DIR; the retry answered: %s", text(res))
			if tt.wantRefusal == "" {
				require.False(t, res.IsError, text(res))
				got := structured(t, res)
				assert.Equal(t, true, got["replayed"])
				assert.EqualValues(t, issues[0].Number, got["number"])
				return
			}
			require.True(t, res.IsError, "the bot cannot tell the developer's issue from a copy: %s", text(res))
			assert.Contains(t, text(res), tt.wantRefusal)

			again := h.call("createTicket", args)
			require.False(t, again.IsError, "the developer's server finds its own issue: %s", text(again))
			assert.EqualValues(t, issues[0].Number, structured(t, again)["number"])
			assert.Len(t, fake.GitHubIssues("acme/tokens"), 1)
		})
	}
}
