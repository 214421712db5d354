package chain

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// keyInError is how an in-doubt error names the key to call again with.
var keyInError = regexp.MustCompile(`idempotencyKey "([^"]+)"`)

// TestARetryWithTheKeySaasMcpShowedIsTheSameCall: a call without an
// idempotencyKey runs under a key derived from its arguments, which its
// result shows and its in-doubt error names ("call again with the same
// idempotencyKey"). An agent that does exactly that retries the same call:
// it must meet the first call's row (replay it, reconcile it, or wait for
// it), not claim a fresh one and act a second time. Every audit record
// names the key as the agent sees it.
func TestARetryWithTheKeySaasMcpShowedIsTheSameCall(t *testing.T) {
	t.Parallel()
	gh := map[string]string{"GITHUB_TOKEN": "ghp_x"}
	tests := []struct {
		name      string
		firstErr  error // what the first call's provider answers; nil: success
		found     bool  // whether a reconciliation finds the first effect
		wantErr   string
		wantRepl  bool
		wantRuns  int64
		wantReads int64
	}{
		{name: "the key a result showed replays the first result", wantRepl: true, wantRuns: 1},
		{
			name:     "the key an in-doubt error named finds the first effect",
			firstErr: &provider.Error{Provider: "github", Op: "create issue", Status: 502, InDoubt: true},
			found:    true, wantRepl: true, wantRuns: 1, wantReads: 1,
		},
		{
			name:     "the key an in-doubt error named looks before it sends once more",
			firstErr: &provider.Error{Provider: "github", Op: "create issue", Status: 502, InDoubt: true},
			wantRuns: 2, wantReads: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sandbox", gh)
			b.runErr, b.found = tt.firstErr, tt.found
			derived := NewCall(b.tool, ticket(), "", "", "").Key
			first, err := b.call(ticket())
			var key string
			if tt.firstErr == nil {
				require.NoError(t, err)
				var shown map[string]any
				require.NoError(t, json.Unmarshal(first.Value, &shown))
				key, _ = shown["idempotencyKey"].(string)
			} else {
				require.Error(t, err)
				assert.Equal(t, KindInDoubt, KindOf(err))
				assert.Contains(t, err.Error(), "will check github before acting")
				assert.Contains(t, err.Error(), "IDEMPOTENCY_WINDOW", "the error says how long the key is kept")
				m := keyInError.FindStringSubmatch(err.Error())
				require.NotNil(t, m, "the error names the key: %v", err)
				key = m[1]
			}
			require.Equal(t, derived, key, "the agent is shown the derived key")

			b.runErr = nil
			res, err := b.call(ticket("idempotencyKey", key))
			require.NoError(t, err)
			assert.Equal(t, tt.wantRepl, res.Replayed)
			assert.Equal(t, tt.wantRuns, b.runs.Load(), "provider calls")
			assert.Equal(t, tt.wantReads, b.reads.Load(), "reconciliation reads")

			_, ok, _ := b.store.Get(context.Background(), "key:"+key)
			assert.False(t, ok, "the key claimed no row of its own")
			row, ok, _ := b.store.Get(context.Background(), key)
			require.True(t, ok)
			assert.Less(t, row.ExpiresAt.Sub(row.ClaimedAt), time.Hour, "the row keeps the window, not an explicit key's day")
			b.sink.mu.Lock()
			defer b.sink.mu.Unlock()
			for _, r := range b.sink.recs {
				assert.Equal(t, key, r.IdempotencyKey, "%s record", r.Status)
			}
		})
	}

	t.Run("the key of a call still running is reported in progress", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		derived := NewCall(b.tool, ticket(), "", "", "")
		now := time.Now()
		claim, err := idempotency.Policy{}.NewClaim("createTicket", "", derived.argsHash, "acme/app", "other", now)
		require.NoError(t, err)
		_, _, err = b.store.Claim(context.Background(), claim, now, func(string) bool { return true })
		require.NoError(t, err)

		_, err = b.call(ticket("idempotencyKey", derived.Key))
		require.Error(t, err)
		assert.Equal(t, KindConflict, KindOf(err))
		assert.Contains(t, err.Error(), "still in progress")
		assert.Contains(t, err.Error(), derived.Key)
		assert.Zero(t, b.runs.Load())
	})
}

// TestAnAutoKeyThatIsNotThisCallsIsRefused: a key in the derived name space
// that these arguments do not derive names another call (or none). Taken as
// a fresh explicit key it would act again while the agent believes it
// retries the call the key names; it is refused, naming the cause, and
// nothing is sent.
func TestAnAutoKeyThatIsNotThisCallsIsRefused(t *testing.T) {
	t.Parallel()
	gh := map[string]string{"GITHUB_TOKEN": "ghp_x"}
	tests := []struct {
		name      string
		firstCall bool // the call the key names ran first
		key       func(b *bundle) string
	}{
		{"the key of the same tool with other arguments", false, func(b *bundle) string {
			return NewCall(b.tool, ticket("title", "Other"), "", "", "").Key
		}},
		{"the key of a call with other arguments that acted", true, func(b *bundle) string {
			return NewCall(b.tool, ticket("title", "Other"), "", "", "").Key
		}},
		{"the key of another tool with the same arguments", false, func(b *bundle) string {
			return idempotency.DerivedKey("sendMessage", NewCall(b.tool, ticket(), "", "", "").argsHash)
		}},
		{"a key saas-mcp never derived", false, func(*bundle) string { return "auto:my-own-key" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sandbox", gh)
			key := tt.key(b)
			var runs int64
			if tt.firstCall {
				_, err := b.call(ticket("title", "Other"))
				require.NoError(t, err)
				runs = 1
			}
			_, err := b.call(ticket("idempotencyKey", key))
			require.Error(t, err)
			assert.Equal(t, KindConflict, KindOf(err))
			assert.ErrorIs(t, err, idempotency.ErrDerivedKeyMismatch)
			for _, s := range []string{key, `"auto:"`, "nothing was sent", "leave idempotencyKey out"} {
				assert.Contains(t, err.Error(), s)
			}
			assert.Equal(t, runs, b.runs.Load(), "no provider call")
			_, ok, _ := b.store.Get(context.Background(), "key:"+key)
			assert.False(t, ok, "no row is claimed under the key")
			statuses := b.sink.statuses()
			assert.Equal(t, []string{"started", "rejected"}, statuses[len(statuses)-2:])
		})
	}
}

// TestAKeyInDoubtThatCannotBeCheckedIsRefusedUntilItExpires: when the tool
// cannot look for an earlier effect in this configuration (Slack with only
// an incoming webhook), a key in doubt can never be reconciled. The errors
// must not promise a check nor send the agent round a retry loop: they say
// the key is refused until it expires, when that is and which setting
// decides it, and that a new key acts anyway. Refused retries do not push
// that time out, a new key acts at once, and the expired key acts again.
// The store is the real SQLite one, whose expiry honours leases.
func TestAKeyInDoubtThatCannotBeCheckedIsRefusedUntilItExpires(t *testing.T) {
	t.Parallel()
	const (
		window = 10 * time.Minute
		ttl    = 24 * time.Hour
		lease  = 2 * time.Minute
	)
	noHistory := errors.New("the webhook cannot read history")
	tests := []struct {
		name    string
		key     string // "": derived
		upfront bool   // CanReconcile says so before the send; else only Reconcile finds out
		life    time.Duration
		setting string
	}{
		{"an explicit key, the tool saying so before it sends", "hook-1", true, ttl, "IDEMPOTENCY_KEY_TTL"},
		{"a derived key, the tool saying so before it sends", "", true, window, "IDEMPOTENCY_WINDOW"},
		{"an explicit key, the tool finding out only when it looks", "hook-1", false, ttl, "IDEMPOTENCY_KEY_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			var clock atomic.Int64
			clock.Store(start.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			idem := &Idempotency{
				Store: db.Keys(), Policy: idempotency.Policy{Window: window, KeyTTL: ttl, Lease: lease},
				Owner: "me", Alive: func(string) bool { return true }, Now: now, Audit: &memSink{}, Log: discard,
			}
			var runs, reads atomic.Int64
			tool := &Tool{Name: "sendMessage", Provider: "slack", Action: "post_message",
				Run: func(context.Context, *Call) (any, error) {
					if runs.Add(1) == 1 {
						return nil, &provider.Error{Provider: "slack", Op: "incoming webhook", Status: 500, InDoubt: true}
					}
					return map[string]any{"ts": ""}, nil
				},
				Reconcile: func(context.Context, *Call, time.Time) (any, bool, error) {
					reads.Add(1)
					return nil, false, CannotReconcile(noHistory)
				},
			}
			if tt.upfront {
				tool.CanReconcile = func(*Call) error { return CannotReconcile(noHistory) }
			}
			h := idem.Middleware()(Final)
			args := map[string]any{"channel": "C1", "text": "deploy"}
			if tt.key != "" {
				args["idempotencyKey"] = tt.key
			}
			call := func(args map[string]any) error {
				_, err := h(ctx, NewCall(tool, args, "t", "sandbox", "c"))
				return err
			}
			key := NewCall(tool, args, "", "", "").Key
			expiry := start.Add(tt.life).Format(time.RFC3339)

			err = call(args)
			require.Error(t, err)
			assert.Equal(t, KindInDoubt, KindOf(err))
			if tt.upfront {
				for _, s := range []string{"cannot check slack", noHistory.Error(), "refused until the key expires at " + expiry, tt.setting, key, "call again with a new idempotencyKey"} {
					assert.Contains(t, err.Error(), s)
				}
				assert.NotContains(t, err.Error(), "will check slack before acting")
				assert.NotContains(t, err.Error(), "same idempotencyKey")
			}

			// Retries, the last in the final minute of the key's life: each is
			// refused, says the same time, and sends nothing.
			for _, at := range []time.Duration{time.Minute, tt.life - time.Minute} {
				clock.Store(start.Add(at).UnixNano())
				err = call(args)
				require.Error(t, err, "a retry %s after the first call", at)
				assert.Equal(t, KindInDoubt, KindOf(err))
				assert.ErrorIs(t, err, ErrCannotReconcile)
				for _, s := range []string{"cannot check slack", noHistory.Error(), "Nothing was sent", "every call with this key is refused until the key expires at " + expiry, tt.setting, key, "call again with a new idempotencyKey"} {
					assert.Contains(t, err.Error(), s)
				}
				assert.NotContains(t, err.Error(), "retry with the same key")
				assert.NotContains(t, err.Error(), "same idempotencyKey")
				assert.EqualValues(t, 1, runs.Load(), "nothing is sent with the key")
				row, _, err := db.Keys().Get(ctx, storedKey(t, tt.key, key))
				require.NoError(t, err)
				assert.Equal(t, idempotency.StateInDoubt, row.State, "the key stays in doubt")
			}
			if tt.upfront {
				assert.Zero(t, reads.Load(), "no look that cannot succeed")
			}

			require.NoError(t, call(map[string]any{"channel": "C1", "text": "deploy", "idempotencyKey": "hook-2"}), "a new key acts at once")
			assert.EqualValues(t, 2, runs.Load())

			clock.Store(start.Add(tt.life).UnixNano())
			require.NoError(t, call(args), "the expired key acts again")
			assert.EqualValues(t, 3, runs.Load())
		})
	}
}

// storedKey is the row key of a call's key: explicit ones are name-spaced.
func storedKey(t *testing.T, explicit, key string) string {
	t.Helper()
	if explicit == "" {
		return key
	}
	k, err := idempotency.ExplicitKey(explicit)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(k, "key:"))
	return k
}
