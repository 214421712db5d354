package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// TestAKeyThatExpiredActsAgainEvenWhenItsNextCallIsInDoubt: the README says
// "After a key expires, the same call acts again", and that a call in doubt
// is reconciled by looking for *its* effect. A derived key (or a reused
// explicit one) recurs by design once it has expired; when the new call
// then meets an ambiguous failure that had no effect (a 500 before GitHub or
// Slack acted), reconciliation searches from shortly before the new claim,
// and there finds the expired call's effect, which carries the same key.
// The marker (GitHub) and the metadata (Slack) name the claim as well, so
// that effect is not taken for this call's: the retry acts, rather than
// answer "replayed" with the old issue or message, a success reported for
// an effect that did not happen.
func TestAKeyThatExpiredActsAgainEvenWhenItsNextCallIsInDoubt(t *testing.T) {
	t.Parallel()
	for _, tool := range effectTools {
		for _, explicit := range []bool{false, true} {
			name := tool.name + ": derived key"
			if explicit {
				name = tool.name + ": explicit key"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := start(t, fastEnv(map[string]string{
					"IDEMPOTENCY_WINDOW": "1s", "IDEMPOTENCY_KEY_TTL": "1s", "RECONCILE_SETTLE": "100ms",
				}))
				id := "exp"
				if explicit {
					id += "x"
				}
				args := tool.args(id)
				if !explicit {
					delete(args, "idempotencyKey")
				}

				first := structured(t, h.call(tool.name, args))
				require.Len(t, tool.effects(h.fake, id), 1)

				time.Sleep(1500 * time.Millisecond) // the key has expired: the same call is a new one
				h.fake.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Status: http.StatusInternalServerError})
				res := h.call(tool.name, args)
				require.True(t, res.IsError, "the 500 leaves the new call in doubt: %s", text(res))
				require.Len(t, tool.effects(h.fake, id), 1, "the 500 had no effect")

				// The retry the error asks for, within the new key's life.
				again := h.call(tool.name, args)
				require.False(t, again.IsError, "retry: %s", text(again))
				out := structured(t, again)
				effects := tool.effects(h.fake, id)
				assert.Len(t, effects, 2, "the call acted again after its key expired (README: the same call acts again)")
				assert.NotEqual(t, tool.ref(first), tool.ref(out),
					"the retry answered the expired call's effect as its own (replayed=%v): a success for an effect that did not happen", out["replayed"])
			})
		}
	}
}

// TestAnEffectIsFoundWhenTheHostClockRanAheadOfTheProvider: reconciliation
// searches the provider from the claim time less a margin, the claim time
// being the host's wall clock. A host whose clock ran ahead of GitHub's or
// Slack's when it claimed (a VM after resume, a clock NTP has not yet
// stepped back) asks for effects "since" a moment that is still in the
// provider's future; with a margin of a minute, the effect of the first
// attempt (here a 502 after the provider committed) was never listed, and
// the retry sent a second message or issue under the same key. The margin
// is 15 minutes, which an earlier life's effect no longer makes unsafe (see
// above): three minutes ahead is found.
func TestAnEffectIsFoundWhenTheHostClockRanAheadOfTheProvider(t *testing.T) {
	t.Parallel()
	for _, tool := range effectTools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			// The provider's clock is three minutes behind the host's.
			fake := fakesaas.New(fakesaas.WithClock(func() time.Time { return time.Now().Add(-3 * time.Minute) }))
			h := start(t, fastEnv(map[string]string{"RECONCILE_SETTLE": "100ms"}))
			h.stop()
			h.fake = fake
			t.Cleanup(fake.Close)
			h.vars["SLACK_API_URL"], h.vars["GITHUB_API_URL"], h.vars["STRIPE_API_URL"] = fake.SlackAPIURL(), fake.GitHubAPIURL(), fake.StripeAPIURL()
			h.session = h.connect(h.vars)

			id := "skew"
			args := tool.args(id)
			fake.Inject(fakesaas.Fault{Method: "POST", Path: tool.path, Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusBadGateway})
			res := h.call(tool.name, args)
			require.True(t, res.IsError, "the 502 leaves the call in doubt: %s", text(res))
			require.Len(t, tool.effects(fake, id), 1, "the provider committed before the 502")

			out := settle(t, h.session, tool.name, args)
			assert.Len(t, tool.effects(fake, id), 1, "one effect per key; stderr: %s", h.stderr.String())
			assert.Equal(t, true, out["replayed"], "the retry found the first attempt's effect")
		})
	}
}
