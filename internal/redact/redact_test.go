package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedactorRemovesSecrets(t *testing.T) {
	t.Parallel()
	r := New("my-configured-secret-value", "abc", "")
	tests := []struct {
		name, in, want string
	}{
		{"a configured value is masked", "auth failed for my-configured-secret-value!", "auth failed for [REDACTED]!"},
		{"a value too short to mask safely is kept", "abc def", "abc def"},
		{"a Slack bot token is masked", "token xoxb-123-456-abcDEF rejected", "token [REDACTED] rejected"},
		{"a Slack user token is masked", "xoxp-1-2-3", "[REDACTED]"},
		{"a GitHub classic token is masked", "Bearer ghp_abcdefABCDEF0123456789", "Bearer [REDACTED]"},
		{"a GitHub server token is masked", "ghs_abc123", "[REDACTED]"},
		{"a fine-grained GitHub token is masked", "github_pat_11ABC_def", "[REDACTED]"},
		{"a Stripe live key is masked", "key sk_live_51Habc", "key [REDACTED]"},
		{"a Stripe restricted test key is masked", "rk_test_abc", "[REDACTED]"},
		{"a webhook secret is masked", "whsec_abc+/=", "[REDACTED]"},
		{"a Slack webhook URL path is masked", "post https://hooks.slack.com/services/T0/B0/XyZ failed", "post https://[REDACTED] failed"},
		{"plain text is untouched", "channel_not_found", "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, r.String(tt.in))
		})
	}
}

func TestRedactorMasksLongestSecretFirst(t *testing.T) {
	t.Parallel()
	r := New("secret", "secret-and-more")
	assert.Equal(t, "x [REDACTED] y", r.String("x secret-and-more y"))
}

// TestRedactorMasksEachEscapedSpellingOfASecret: an error may quote a
// configured value escaped (the JSON Schema validator, fmt's %q, a JSON
// document), so a secret holding a quote, a backslash, a control
// character, an HTML character or invalid UTF-8 is masked in each spelling.
func TestRedactorMasksEachEscapedSpellingOfASecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret, in string
	}{
		{"a single quote as the validator quotes it", `it's-our-webhook-secret-1`, `repo: 'it\'s-our-webhook-secret-1' does not match`},
		{"a double quote as the validator quotes it", `say"secret"-value`, `repo: 'say"secret"-value' does not match`},
		{"a double quote in Go's %q", `say"secret"-value`, `bad value "say\"secret\"-value"`},
		{"a backslash in Go's %q", `C:\webhook\secret-value-2`, `open "C:\\webhook\\secret-value-2": denied`},
		{"a backslash as the validator quotes it", `C:\webhook\secret-value-2`, `repo: 'C:\\webhook\\secret-value-2' does not match`},
		{"a trailing backslash as the validator quotes it", `secret-value-3\`, `repo: 'secret-value-3\' does not match`},
		{"a tab in Go's %q", "tab\tseparated-secret-3", `"tab\tseparated-secret-3"`},
		{"a tab in JSON", "tab\tseparated-secret-3", `{"repo":"tab\tseparated-secret-3"}`},
		{"a backslash and a quote in JSON", `C:\"secret"-value`, `{"repo":"C:\\\"secret\"-value"}`},
		{"an HTML character in JSON with HTML escaping", "a<b>&secret-value", `{"repo":"a\u003cb\u003e\u0026secret-value"}`},
		{"an HTML character in JSON without HTML escaping", "a<b>&secret-\u2028value", `{"repo":"a<b>&secret-\u2028value"}`},
		{"invalid UTF-8 in Go's %q", "secret-\xffvalue", `"secret-\xffvalue"`},
		{"invalid UTF-8 in JSON", "secret-\xffvalue", `{"repo":"secret-\ufffdvalue"}`},
		{"a non-printable rune in Go's %q", "secret-\u200bvalue", `"secret-\u200bvalue"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := New(tt.secret).String(tt.in)
			assert.Contains(t, got, Mask)
			assert.NotContains(t, got, "secret", "%q leaks in %q", tt.secret, got)
		})
	}
}

// TestRedactorEscapesAValueThatIsAnotherValuesSpelling: a configured value
// equal to an escaped spelling of another is still escaped in turn.
func TestRedactorEscapesAValueThatIsAnotherValuesSpelling(t *testing.T) {
	t.Parallel()
	r := New(`say"secret`, `say\"secret`)
	assert.Equal(t, `"[REDACTED]" and "[REDACTED]"`, r.String(`"say\"secret" and "say\\\"secret"`))
}

// TestRedactorSpellingsMatchTheirEncoders pins each spelling to the encoder
// it stands for, so a spelling that drifted from what fmt, encoding/json
// or the validator write would be noticed.
func TestRedactorSpellingsMatchTheirEncoders(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{`it's-a-secret`, `C:\dir\secret\`, "tab\tand\nnewline", `a<b>&"c"`, "bad\xffutf8", "plain-secret"} {
		html, err := json.Marshal(secret)
		require.NoError(t, err)
		var plain bytes.Buffer
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(secret))
		for _, quoted := range []string{fmt.Sprintf("%q", secret), schemaQuote(secret), string(html), strings.TrimSuffix(plain.String(), "\n")} {
			inner := quoted[1 : len(quoted)-1] // the quotes are no part of the secret
			assert.Equal(t, "<"+Mask+">", New(secret).String("<"+inner+">"), "%q quoted as %s", secret, quoted)
		}
	}
}

// schemaQuote is santhosh-tekuri/jsonschema's quote() (kind/kind.go), as
// the validator's messages quote a value.
func schemaQuote(s string) string {
	s = fmt.Sprintf("%q", s)
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s[1:len(s)-1] + "'"
}

// TestRedactorLongestCountsEscapedSpellings: Longest sizes the margin a
// caller cuts at before redacting, so it covers the longest spelling, not
// only the value as configured.
func TestRedactorLongestCountsEscapedSpellings(t *testing.T) {
	t.Parallel()
	assert.Equal(t, len("plain-secret"), New("plain-secret", "abc").Longest())
	assert.Equal(t, len(`a\u003cb\u003e`), New("a<b>").Longest(), "JSON's HTML escapes are the longest spelling")
	assert.Equal(t, len(`C:\\dir\\x`), New(`C:\dir\x`).Longest())
	assert.Equal(t, 0, New("", "  ", "abc").Longest())
}

// TestRedactorKeepsShortValuesOutInEverySpelling: a value under 4 bytes
// stays unredacted even where an escaped spelling of it would be longer.
func TestRedactorKeepsShortValuesOutInEverySpelling(t *testing.T) {
	t.Parallel()
	r := New(`a"b`, "<>")
	assert.Equal(t, `say "a\"b" or <> or \u003c\u003e`, r.String(`say "a\"b" or <> or \u003c\u003e`))
}

// TestRedactorSkipsTheReplacerOnlyWhereNoSpellingCanBe: the stem String
// looks for first is a run every spelling holds verbatim, and a secret
// with no such run (all escapes) is looked for in every text.
func TestRedactorSkipsTheReplacerOnlyWhereNoSpellingCanBe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secret, stem string
	}{
		{"plain-secret", "plain-secret"},
		{`it's-our-webhook-secret-1`, "s-our-webhook-secret-1"},
		{`C:\webhook\secret-value-2`, "secret-value-2"},
		{"a<b>&secret\u2028x", "secret"},
		{"\x01\t\x02\x03", ""},
		{`''""`, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.stem, stem(tt.secret, spellings(tt.secret)), "stem of %q", tt.secret)
	}
	r := New("\x01\t\x02\x03", `''""`)
	assert.Equal(t, "a [REDACTED] b [REDACTED] c", r.String(`a \x01\t\x02\x03 b \'\'"" c`))
	assert.Equal(t, "only the stem s-our-webhook-secret-1", New(`it's-our-webhook-secret-1`).String("only the stem s-our-webhook-secret-1"))
}

func TestNilRedactorStillMasksTokenShapes(t *testing.T) {
	t.Parallel()
	var r *Redactor
	assert.Equal(t, "[REDACTED]", r.String("xoxb-1-2"))
	assert.Equal(t, "", r.Error(nil))
	assert.Equal(t, "bad [REDACTED]", r.Error(errors.New("bad sk_test_1")))
}

// FuzzRedact checks that no configured secret and no token shape survives in
// any text that contains them.
func FuzzRedact(f *testing.F) {
	f.Add("prefix ", "s3cr3t-value", " suffix")
	f.Add("", "xoxb-1-2-3", "")
	f.Add("err: ", "sk_live_abcdef", "\n")
	f.Add("é", "ghp_ÿ", "github_pat_")
	f.Add("repo: '", "it's-a-\tsecret\\", "' does not match")
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		r := New(secret)
		out := r.String(before + secret + after)
		s := strings.TrimSpace(secret)
		if len(s) >= 4 && strings.Contains(out, s) {
			t.Fatalf("configured secret %q survived in %q", s, out)
		}
		if q := strconv.Quote(s); len(s) >= 4 {
			in := before + q[1:len(q)-1] + after
			if got := r.String(in); strings.Contains(got, q[1:len(q)-1]) {
				t.Fatalf("configured secret %q survived, escaped, in %q", s, got)
			}
		}
		for _, tok := range []string{"xoxb-", "ghp_", "github_pat_", "sk_live_", "sk_test_", "whsec_"} {
			for _, seed := range []string{tok + "AbC123"} {
				got := r.String(before + seed + after)
				if strings.Contains(got, seed) {
					t.Fatalf("token %q survived in %q", seed, got)
				}
			}
		}
	})
}

// BenchmarkRedactorString measures the common case, text that holds no
// secret: a short audit field and a 4 KiB error, with a redactor built as
// serve builds it (several credentials and signing secrets, some holding a
// quote or a backslash) and with one secret, as a provider client builds
// its own.
func BenchmarkRedactorString(b *testing.B) {
	configured := New("ghp_Zq8mW3vK1pR7tY5nX2cBabcdef0123456789", "sk_live_51HabcdefGHIJKLmnopQRST",
		"xoxb-0000000000-0000000000-benchtoken", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
		"XXXXXXXXXXXXXXXXXXXXXXXX", `it's-our-webhook-secret-1`, `C:\webhook\secret-value-2`, "8f3c2b9a7e6d5c4b3a2f1e0d")
	single := New(`it's-our-webhook-secret-1`)
	short := "acme/app"
	long := strings.Repeat(`invalid arguments for createTicket: repo: 'acme app' does not match pattern '^[A-Za-z0-9-]{1,39}$'; `, 50)[:4096]
	for _, bc := range []struct {
		name string
		r    *Redactor
		in   string
	}{
		{"configured/short", configured, short},
		{"configured/4KiB", configured, long},
		{"one-secret/short", single, short},
		{"one-secret/4KiB", single, long},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bc.r.String(bc.in)
			}
		})
	}
}

func TestClipLetsNoPieceOfASecretThroughWhereTheFirstCutSplitOne(t *testing.T) {
	t.Parallel()
	const secret = "S3cr3tV4lu3S3cr3tV4lu3S3cr3tV4lu3S3cr3tV4lu3S3cr3tV4lu3S3cr3tV4"
	r := New(secret)
	margin := r.Longest() + TokenMargin
	for _, tc := range []struct {
		name string
		s    string
		n    int
	}{
		{"short text, no cut", "repo " + secret, 200},
		{"secrets shrink the text, a split one at the first cut", strings.Repeat(secret, 68) + secret, 4096},
		{"a split secret at every offset of the first cut", strings.Repeat("x", 100) + strings.Repeat(secret, 12), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for shift := 0; shift < len(secret); shift++ {
				s := strings.Repeat("y", shift) + tc.s
				got := r.Clip(s, tc.n)
				assert.NotContains(t, got, secret[:8], "a piece of the secret passed (shift %d)", shift)
				if len(s) > tc.n+margin {
					assert.Contains(t, got, "… ("+strconv.Itoa(len(s))+" bytes)", "a cut text says it was cut")
				}
				assert.LessOrEqual(t, len(strings.SplitN(got, "…", 2)[0]), tc.n)
			}
		})
	}
}
