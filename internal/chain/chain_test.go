package chain

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/schemas"
)

// bundle is one chain under test with its fakes.
type bundle struct {
	sink    *memSink
	store   *memStore
	runs    atomic.Int64
	runErr  error
	found   bool
	handler Handler
	tool    *Tool
	idem    *Idempotency
	reads   atomic.Int64
	// foundOnRead, when > 0, makes Reconcile find the effect from that read on.
	foundOnRead int64
}

func setup(t *testing.T, env string, secrets map[string]string) *bundle {
	t.Helper()
	b := &bundle{sink: &memSink{}, store: newMemStore()}
	b.tool = &Tool{
		Name: "createTicket", Provider: "github", Action: "create_issue",
		Target:      func(a map[string]any) string { s, _ := a["repo"].(string); return s },
		Credentials: []string{config.GitHubToken},
		Run: func(ctx context.Context, c *Call) (any, error) {
			b.runs.Add(1)
			c.NoteAttempt()
			if b.runErr != nil {
				return nil, b.runErr
			}
			return map[string]any{"provider": "github", "number": b.runs.Load(), "url": "u", "replayed": false, "idempotencyKey": c.Key}, nil
		},
		Reconcile: func(ctx context.Context, c *Call, since time.Time) (any, bool, error) {
			n := b.reads.Add(1)
			if !b.found && (b.foundOnRead == 0 || n < b.foundOnRead) {
				return nil, false, nil
			}
			return map[string]any{"provider": "github", "number": 77, "url": "u", "replayed": false, "idempotencyKey": c.Key}, true, nil
		},
	}
	in, err := schemas.Input("createTicket")
	require.NoError(t, err)
	v, err := NewValidator(map[string][]byte{"createTicket": in})
	require.NoError(t, err)
	sec, err := config.LoadSecrets(func(k string) string { return secrets[k] }, config.CredentialNames...)
	require.NoError(t, err)
	now := time.Now
	idem := &Idempotency{Store: b.store, Owner: "me", Alive: func(string) bool { return true }, Now: now, Audit: b.sink, Log: discard}
	b.idem = idem
	b.handler = Wrap(Final, Audit(b.sink, now, discard), Validate(v), Guard(env, sec, Policy{}), Secrets(sec), idem.Middleware())
	return b
}

func (b *bundle) call(args map[string]any) (Result, error) {
	return b.handler(context.Background(), NewCall(b.tool, args, "tester", "sandbox", "call-1"))
}

func ticket(extra ...any) map[string]any {
	m := map[string]any{"repo": "acme/app", "title": "Broken build"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func TestRejectedCallsAreAuditedAndNeverRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      string
		secrets  map[string]string
		args     map[string]any
		wantKind Kind
		wantText []string
	}{
		{"a missing required field is named", "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"}, map[string]any{"repo": "acme/app"}, KindInvalid, []string{"title: is required"}},
		{"every violation is listed in one error", "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"}, map[string]any{"repo": "nope", "title": "", "bogus": 1}, KindInvalid, []string{"repo:", "title:", "bogus: is not a known argument"}},
		// Mutation testing: listing only the first missing field was
		// caught by the end-to-end suite alone.
		{"every missing required field is named", "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"}, map[string]any{}, KindInvalid, []string{"repo: is required", "title: is required"}},
		{"a wrong type is named", "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"}, ticket("labels", "bug"), KindInvalid, []string{"labels:"}},
		{"a missing credential names its variable", "sandbox", nil, ticket(), KindCredential, []string{"GITHUB_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.env, tt.secrets)
			_, err := b.call(tt.args)
			require.Error(t, err)
			assert.Equal(t, tt.wantKind, KindOf(err))
			for _, s := range tt.wantText {
				assert.Contains(t, err.Error(), s)
			}
			assert.Zero(t, b.runs.Load(), "nothing may reach the provider")
			assert.Equal(t, []string{"started", "rejected"}, b.sink.statuses())
		})
	}
}

func TestGuardAppliesSandboxAndLiveRules(t *testing.T) {
	t.Parallel()
	stripeTool := func(b *bundle) { b.tool.Credentials = []string{config.StripeSecretKey} }
	tests := []struct {
		name, env, key string
		wantErr        string
	}{
		{"sandbox refuses a live secret key", "sandbox", "sk_live_abc", "sandbox rule: STRIPE_SECRET_KEY"},
		{"sandbox refuses a live restricted key", "sandbox", "rk_live_abc", "sandbox rule: STRIPE_SECRET_KEY"},
		{"live refuses a test key", "live", "sk_test_abc", "live rule: STRIPE_SECRET_KEY"},
		{"sandbox takes a test key", "sandbox", "sk_test_abc", ""},
		{"live takes a live key", "live", "sk_live_abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.env, map[string]string{"STRIPE_SECRET_KEY": tt.key})
			stripeTool(b)
			_, err := b.call(ticket())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), tt.key, "the error names the variable, never the value")
			assert.Equal(t, KindPolicy, KindOf(err))
			assert.Zero(t, b.runs.Load())
		})
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	gh := map[string]string{"GITHUB_TOKEN": "ghp_x"}

	t.Run("the same key and arguments replay the stored result without a second effect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		first, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		second, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		assert.EqualValues(t, 1, b.runs.Load())
		assert.False(t, first.Replayed)
		assert.True(t, second.Replayed)
		var got map[string]any
		require.NoError(t, json.Unmarshal(second.Value, &got))
		assert.Equal(t, true, got["replayed"])
		assert.EqualValues(t, 1, got["number"])
		assert.Equal(t, []string{"started", "succeeded", "started", "replayed"}, b.sink.statuses())
	})
	t.Run("the same key with other arguments is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		_, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		_, err = b.call(ticket("idempotencyKey", "k1", "title", "Other"))
		require.Error(t, err)
		assert.Equal(t, KindConflict, KindOf(err))
		assert.Contains(t, err.Error(), "different arguments")
		assert.EqualValues(t, 1, b.runs.Load())
	})
	t.Run("identical calls without a key are deduplicated", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		_, err := b.call(ticket())
		require.NoError(t, err)
		res, err := b.call(ticket())
		require.NoError(t, err)
		assert.True(t, res.Replayed)
		assert.EqualValues(t, 1, b.runs.Load())
	})
	t.Run("a key still claimed by a live call is reported in progress", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		now := time.Now()
		claim, err := idempotency.Policy{}.NewClaim("createTicket", "k1", NewCall(b.tool, ticket(), "", "", "").argsHash, "acme/app", "other", now)
		require.NoError(t, err)
		_, _, err = b.store.Claim(context.Background(), claim, now, func(string) bool { return true })
		require.NoError(t, err)
		_, err = b.call(ticket("idempotencyKey", "k1"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "still in progress")
		assert.Zero(t, b.runs.Load())
	})
	t.Run("a definite provider failure releases the key so a retry sends", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		b.runErr = &provider.Error{Provider: "github", Op: "create issue", Status: 422}
		_, err := b.call(ticket("idempotencyKey", "k1"))
		require.Error(t, err)
		b.runErr = nil
		_, err = b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		assert.EqualValues(t, 2, b.runs.Load())
	})
	t.Run("an ambiguous failure leaves the key in doubt and the retry finds the first effect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		b.runErr = &provider.Error{Provider: "github", Op: "create issue", Status: 502, InDoubt: true}
		_, err := b.call(ticket("idempotencyKey", "k1"))
		require.Error(t, err)
		assert.Equal(t, KindInDoubt, KindOf(err))
		assert.Contains(t, err.Error(), "same idempotencyKey")
		row, _, _ := b.store.Get(context.Background(), "key:k1")
		assert.Equal(t, idempotency.StateInDoubt, row.State)

		b.runErr, b.found = nil, true
		res, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		assert.True(t, res.Replayed)
		assert.Contains(t, string(res.Value), `"number":77`)
		assert.EqualValues(t, 1, b.runs.Load(), "no second send")
		assert.Contains(t, b.sink.statuses(), "reconciled")
	})
	t.Run("an in-doubt key whose effect is not found is sent once more", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		b.runErr = &provider.Error{Provider: "github", Op: "create issue", InDoubt: true}
		_, err := b.call(ticket("idempotencyKey", "k1"))
		require.Error(t, err)
		b.runErr = nil
		res, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		assert.False(t, res.Replayed)
		assert.EqualValues(t, 2, b.runs.Load())
	})
	t.Run("an effect that shows up only on the second look is found and not sent again", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		b.idem.Settle = 10 * time.Millisecond
		b.runErr = &provider.Error{Provider: "github", Op: "create issue", InDoubt: true}
		_, err := b.call(ticket("idempotencyKey", "k1"))
		require.Error(t, err)
		b.runErr, b.foundOnRead = nil, 2
		res, err := b.call(ticket("idempotencyKey", "k1"))
		require.NoError(t, err)
		assert.True(t, res.Replayed)
		assert.EqualValues(t, 2, b.reads.Load(), "looked twice")
		assert.EqualValues(t, 1, b.runs.Load(), "no second send")
	})
	t.Run("a store that cannot be written refuses the call before sending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sandbox", gh)
		b.store.fail = errors.New("disk I/O error")
		_, err := b.call(ticket())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "nothing was sent")
		assert.Zero(t, b.runs.Load())
		assert.Equal(t, []string{"started", "failed"}, b.sink.statuses())
	})
}

func TestAuditFailsClosed(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.sink.fail = errors.New("read-only file system")
	_, err := b.call(ticket())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "audit log cannot be written")
	assert.Contains(t, err.Error(), "read-only file system")
	assert.Zero(t, b.runs.Load())
}

func TestCancelledCallLeavesKeyInDoubt(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	ctx, cancel := context.WithCancel(context.Background())
	b.tool.Run = func(ctx context.Context, c *Call) (any, error) {
		b.runs.Add(1)
		cancel() // the client cancels while the request is out
		return nil, ctx.Err()
	}
	_, err := b.handler(ctx, NewCall(b.tool, ticket("idempotencyKey", "k1"), "t", "sandbox", "c"))
	require.Error(t, err)
	row, ok, _ := b.store.Get(context.Background(), "key:k1")
	require.True(t, ok)
	assert.Equal(t, idempotency.StateInDoubt, row.State)
	// The terminal record was still written, with the cancelled context.
	assert.Equal(t, []string{"started", "failed"}, b.sink.statuses())
}

// TestSlowCallKeepsItsClaimPastTheLease runs a call that outlives its lease
// on a clock the test moves: the heartbeat extends the claim, so a second
// call with the key is told "in progress" instead of taking the key over and
// sending a second time.
func TestSlowCallKeepsItsClaimPastTheLease(t *testing.T) {
	t.Parallel()
	const lease = time.Minute
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	store := newMemStore()
	idem := &Idempotency{
		Store: store, Policy: idempotency.Policy{Lease: lease}, Owner: "me",
		Alive: func(string) bool { return true }, Now: now, Audit: &memSink{}, Log: discard,
		Heartbeat: time.Millisecond,
	}
	var runs atomic.Int64
	inside, finish := make(chan struct{}), make(chan struct{})
	tool := &Tool{Name: "createTicket", Provider: "github", Action: "create_issue",
		Run: func(ctx context.Context, c *Call) (any, error) {
			if runs.Add(1) == 1 {
				close(inside)
				<-finish
			}
			return map[string]any{"number": runs.Load()}, nil
		},
		Reconcile: func(context.Context, *Call, time.Time) (any, bool, error) { return nil, false, nil },
	}
	h := idem.Middleware()(Final)
	args := map[string]any{"repo": "acme/app", "title": "slow", "idempotencyKey": "k1"}

	first := make(chan error, 1)
	go func() {
		_, err := h(context.Background(), NewCall(tool, args, "t", "sandbox", "c1"))
		first <- err
	}()
	<-inside
	clock.Add(int64(3 * lease)) // the first call is now far past its lease
	require.Eventually(t, func() bool {
		row, _, _ := store.Get(context.Background(), "key:k1")
		return row.LeaseUntil.After(now())
	}, 5*time.Second, time.Millisecond, "the heartbeat moved the lease forward")

	_, err := h(context.Background(), NewCall(tool, args, "t", "sandbox", "c2"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still in progress")
	close(finish)
	require.NoError(t, <-first)
	assert.EqualValues(t, 1, runs.Load(), "one send")
	row, _, _ := store.Get(context.Background(), "key:k1")
	assert.Equal(t, idempotency.StateCommitted, row.State)
}
