package redact

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		r := New(secret)
		out := r.String(before + secret + after)
		s := strings.TrimSpace(secret)
		if len(s) >= 4 && strings.Contains(out, s) {
			t.Fatalf("configured secret %q survived in %q", s, out)
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
