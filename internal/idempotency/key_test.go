package idempotency

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArgsHash(t *testing.T) {
	t.Parallel()
	base := `{"channel":"C1","text":"hi","n":1}`
	tests := []struct {
		name    string
		tool    string
		args    any
		exclude []string
		same    bool
	}{
		{"reordered keys and whitespace hash the same", "sendMessage", json.RawMessage(`{ "n":1.0, "text":"hi", "channel":"C1" }`), nil, true},
		{"the explicit key is not part of the hash", "sendMessage", json.RawMessage(`{"channel":"C1","text":"hi","n":1,"idempotencyKey":"abc"}`), nil, true},
		{"a Go map hashes as its JSON", "sendMessage", map[string]any{"channel": "C1", "text": "hi", "n": 1}, nil, true},
		{"raw bytes hash as JSON", "sendMessage", []byte(base), nil, true},
		{"an excluded field is ignored", "sendMessage", json.RawMessage(`{"channel":"C1","text":"hi","n":1,"trace":"x"}`), []string{"trace"}, true},
		{"another value hashes differently", "sendMessage", json.RawMessage(`{"channel":"C1","text":"hi!","n":1}`), nil, false},
		{"another number hashes differently", "sendMessage", json.RawMessage(`{"channel":"C1","text":"hi","n":1.0000000000000000001}`), nil, false},
		{"another tool hashes differently", "createTicket", json.RawMessage(base), nil, false},
		{"a field not excluded counts", "sendMessage", json.RawMessage(`{"channel":"C1","text":"hi","n":1,"trace":"x"}`), nil, false},
	}
	want, err := ArgsHash("sendMessage", json.RawMessage(base))
	require.NoError(t, err)
	require.Len(t, want, 64)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ArgsHash(tt.tool, tt.args, tt.exclude...)
			require.NoError(t, err)
			if tt.same {
				assert.Equal(t, want, got)
			} else {
				assert.NotEqual(t, want, got)
			}
		})
	}
}

func TestArgsHashOfNoArgumentsIsTheEmptyObject(t *testing.T) {
	t.Parallel()
	empty, err := ArgsHash("t", json.RawMessage(`{}`))
	require.NoError(t, err)
	for _, args := range []any{nil, json.RawMessage(nil), map[string]any(nil), json.RawMessage(`null`)} {
		got, err := ArgsHash("t", args)
		require.NoError(t, err)
		assert.Equal(t, empty, got, "%#v", args)
	}
}

func TestArgsHashRejectsBadJSON(t *testing.T) {
	t.Parallel()
	_, err := ArgsHash("t", json.RawMessage(`{"a":`))
	assert.ErrorContains(t, err, "hash arguments of t")
	_, err = ArgsHash("t", func() {})
	assert.Error(t, err)
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"a uuid is fine", "0b6e2a5c-1f0e-4c4b-9d7e-6a3c1c2f9e10", true},
		{"one character is fine", "k", true},
		{"spaces and accents are fine", "order 42 é", true},
		{"255 characters are fine", strings.Repeat("é", MaxKeyLength), true},
		{"an empty key is refused", "", false},
		{"256 characters are refused", strings.Repeat("a", MaxKeyLength+1), false},
		{"a newline is refused", "a\nb", false},
		{"a NUL byte is refused", "a\x00b", false},
		{"invalid UTF-8 is refused", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateKey(tt.key)
			if tt.ok {
				require.NoError(t, err)
				k, err := ExplicitKey(tt.key)
				require.NoError(t, err)
				assert.Equal(t, "key:"+tt.key, k)
				return
			}
			assert.True(t, errors.Is(err, ErrInvalidKey), "err = %v", err)
			_, err = ExplicitKey(tt.key)
			assert.ErrorIs(t, err, ErrInvalidKey)
		})
	}
}

func TestPolicyNewClaim(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name        string
		policy      Policy
		explicit    string
		wantKey     string
		wantExpires time.Time
		wantLease   time.Time
	}{
		{"a call without a key dedupes for the default window", Policy{}, "", "auto:sendMessage:h1", now.Add(10 * time.Minute), now.Add(DefaultLease)},
		{"a call without a key uses the configured window", Policy{Window: time.Minute, Lease: time.Second}, "", "auto:sendMessage:h1", now.Add(time.Minute), now.Add(time.Second)},
		{"an explicit key lives a day", Policy{}, "abc", "key:abc", now.Add(24 * time.Hour), now.Add(DefaultLease)},
		{"an explicit key uses the configured TTL", Policy{KeyTTL: time.Hour}, "abc", "key:abc", now.Add(time.Hour), now.Add(DefaultLease)},
		{"the key derived from this very call, brought back, is the derived row with its window", Policy{Window: time.Minute, KeyTTL: time.Hour}, "auto:sendMessage:h1", "auto:sendMessage:h1", now.Add(time.Minute), now.Add(DefaultLease)},
		{"an explicit key that only contains the derived prefix is explicit", Policy{}, "key:auto:x", "key:key:auto:x", now.Add(24 * time.Hour), now.Add(DefaultLease)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.policy.NewClaim("sendMessage", tt.explicit, "h1", "C1", "me", now)
			require.NoError(t, err)
			assert.Equal(t, Claim{
				Key: tt.wantKey, Tool: "sendMessage", ArgsHash: "h1", Target: "C1", Owner: "me",
				State: StateClaimed, ClaimedAt: now, LeaseUntil: tt.wantLease, ExpiresAt: tt.wantExpires,
			}, c)
		})
	}
	_, err := Policy{}.NewClaim("sendMessage", "bad\x00key", "h1", "C1", "me", now)
	assert.ErrorIs(t, err, ErrInvalidKey)
}

// TestPolicyNewClaimRefusesTheDerivedKeyOfAnotherCall: a key in the derived
// name space that this call would not derive names some other call, so it
// may neither become a fresh explicit key (a second effect under the name
// of the first) nor claim another call's row.
func TestPolicyNewClaimRefusesTheDerivedKeyOfAnotherCall(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		key  string
	}{
		{"the key derived from other arguments", DerivedKey("sendMessage", "h2")},
		{"the key derived from the same arguments of another tool", DerivedKey("createTicket", "h1")},
		{"a key saas-mcp never derived", "auto:my-own-key"},
		{"the bare prefix", "auto:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Policy{}.NewClaim("sendMessage", tt.key, "h1", "C1", "me", now)
			require.ErrorIs(t, err, ErrDerivedKeyMismatch)
			assert.ErrorContains(t, err, tt.key, "the error names the key")
		})
	}
}

func TestCallerKeyUndoesTheNameSpaceOfAStoredKey(t *testing.T) {
	t.Parallel()
	explicit, err := ExplicitKey("deploy-42")
	require.NoError(t, err)
	oddExplicit, err := ExplicitKey("key:nested")
	require.NoError(t, err)
	derived := DerivedKey("sendMessage", "abc123")
	tests := []struct {
		name   string
		stored string
		want   string
	}{
		{"an explicit key loses its prefix", explicit, "deploy-42"},
		{"an explicit key that itself starts like a prefix keeps the rest", oddExplicit, "key:nested"},
		{"a derived key stays as the call records it", derived, derived},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, CallerKey(tt.stored))
		})
	}
}

func TestArgsHashOfADecodedMapMatchesItsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    map[string]any
		exclude []string
	}{
		{"strings that JSON escapes", map[string]any{"title": "a <b> & \"c\"\n\t\u2028", "repo": "o/n"}, nil},
		{"nested lists and objects", map[string]any{"labels": []any{"bug", "p1"}, "meta": map[string]any{"z": true, "a": nil}}, nil},
		{"the explicit key and an excluded field", map[string]any{"title": "t", "idempotencyKey": "k", "trace": "x"}, []string{"trace"}},
		{"non-ASCII keys and values", map[string]any{"é": "ü", "日本": "語"}, nil},
		{"numbers, which take the encoding/json path", map[string]any{"n": 1.5, "m": float64(100)}, nil},
		{"no arguments at all", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(tt.args)
			require.NoError(t, err)
			want, err := ArgsHash("createTicket", json.RawMessage(raw), tt.exclude...)
			require.NoError(t, err)
			before := len(tt.args)
			got, err := ArgsHash("createTicket", tt.args, tt.exclude...)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			assert.Len(t, tt.args, before, "the caller's map is left as it was")
		})
	}
}

func TestIsDerivedKeyMatchesOnlyTheKeyDerivedFromTheCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"the derived key itself", DerivedKey("sendMessage", "h1"), true},
		{"another hash", DerivedKey("sendMessage", "h2"), false},
		{"a longer hash", DerivedKey("sendMessage", "h12"), false},
		{"another tool", DerivedKey("sendMessageX", "h1"), false},
		{"a tool that is a prefix of the real one", DerivedKey("send", "h1"), false},
		{"the explicit name space", "key:sendMessage:h1", false},
		{"no separator", "auto:sendMessageh1", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, IsDerivedKey(tt.key, "sendMessage", "h1"))
		})
	}
}

func TestEachEnvironmentButLiveHashesCallsInItsOwnNameSpace(t *testing.T) {
	t.Parallel()
	const plain = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sandbox := EnvArgsHash("sandbox", plain)
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"live keeps the plain hash, as before environments had name spaces", EnvArgsHash("live", plain), plain},
		{"an unset environment is sandbox, its default", EnvArgsHash("", plain), sandbox},
		{"sandbox is stable", EnvArgsHash("sandbox", plain), sandbox},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.got)
		})
	}
	assert.NotEqual(t, plain, sandbox, "sandbox must not share live's name space")
	assert.Len(t, sandbox, len(plain), "a hash of the same form, so derived keys keep their shape")
	assert.NotEqual(t, sandbox, EnvArgsHash("sandbox", plain[:63]+"9"), "other arguments, another hash")
}
