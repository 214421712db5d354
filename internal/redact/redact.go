// Package redact removes secrets from any text that leaves the process: tool
// errors, log lines and audit records.
//
// Two rules apply together: every configured secret value is replaced
// verbatim, and every known provider token shape is replaced by pattern,
// so a token that was never configured (one echoed back by a provider, say)
// is caught as well.
package redact

import (
	"regexp"
	"sort"
	"strings"
)

// Mask is what a removed secret is replaced with.
const Mask = "[REDACTED]"

// tokenShapes are the provider credential formats we know. The character
// classes stop at the first byte that cannot belong to a token, so the text
// around a token survives.
var tokenShapes = regexp.MustCompile(
	`xox[abpers]-[0-9A-Za-z-]+` + // Slack bot, user, app and refresh tokens
		`|xapp-[0-9A-Za-z-]+` + // Slack app-level tokens
		`|gh[pousr]_[0-9A-Za-z_]+` + // GitHub classic and app tokens
		`|github_pat_[0-9A-Za-z_]+` + // GitHub fine-grained tokens
		`|(?:sk|rk|pk)_(?:test|live)_[0-9A-Za-z]+` + // Stripe keys
		`|whsec_[0-9A-Za-z+/=]+` + // Stripe webhook secrets
		`|hooks\.slack\.com/services/[0-9A-Za-z/_-]+`, // Slack incoming-webhook URLs carry their secret in the path
)

// Redactor replaces configured secret values and known token shapes. The zero
// value redacts token shapes only. A Redactor is safe for concurrent use once
// built.
type Redactor struct {
	values   []string
	replacer *strings.Replacer
}

// New returns a Redactor for the given secret values. Empty and very short
// values (under 4 bytes) are ignored: masking them would mangle ordinary text
// while protecting nothing.
func New(values ...string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < 4 || seen[v] {
			continue
		}
		seen[v] = true
		r.values = append(r.values, v)
	}
	// Longest first, so a secret that contains another is removed whole.
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	if len(r.values) > 0 {
		pairs := make([]string, 0, 2*len(r.values))
		for _, v := range r.values {
			pairs = append(pairs, v, Mask)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r
}

// Longest is the length of the longest configured value, so a caller that
// must cut text to length can cut generously first (to spare redacting a
// huge text whole) and still never cut a secret in two before redacting:
// cut to n + Longest() + TokenMargin, redact, then cut to n.
func (r *Redactor) Longest() int {
	if r == nil || len(r.values) == 0 {
		return 0
	}
	return len(r.values[0]) // sorted longest first
}

// TokenMargin bounds the length of a known token shape that redaction
// matches (a fine-grained GitHub token is 93 bytes).
const TokenMargin = 256

// String returns s with every secret removed.
func (r *Redactor) String(s string) string {
	if r != nil && r.replacer != nil {
		s = r.replacer.Replace(s)
	}
	if !mayHoldToken(s) {
		return s
	}
	return tokenShapes.ReplaceAllString(s, Mask)
}

// tokenHints are substrings every token shape contains; text holding none of
// them skips the regular expression, which keeps redaction cheap on the
// hot path of every audit record.
var tokenHints = []string{"xox", "xapp-", "gh", "github_pat_", "_test_", "_live_", "whsec_", "hooks.slack.com"}

func mayHoldToken(s string) bool {
	for _, h := range tokenHints {
		if strings.Contains(s, h) {
			return true
		}
	}
	return false
}

// Error returns the redacted text of err, or "" for a nil error.
func (r *Redactor) Error(err error) string {
	if err == nil {
		return ""
	}
	return r.String(err.Error())
}
