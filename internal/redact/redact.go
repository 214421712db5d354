// Package redact removes secrets from any text that leaves the process: tool
// errors, log lines and audit records.
//
// Two rules apply together: every configured secret value is replaced
// verbatim and in each escaped spelling an error may quote it in, and every
// known provider token shape is replaced by pattern, so a token that was
// never configured (one echoed back by a provider, say) is caught as well.
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/saas-mcp/saas-mcp/internal/safetext"
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
		`|(?:(?:sk|rk|pk)_(?:test|live)|whsec)_\*{4,}[0-9A-Za-z]{0,8}` + // Stripe's masked echo of a key it refused ("sk_test_****wxyz")
		`|(?:sk|rk|pk)_(?:test|live)_[0-9A-Za-z]+` + // Stripe keys
		`|whsec_[0-9A-Za-z+/=]+` + // Stripe webhook secrets
		`|hooks\.slack\.com/services/[0-9A-Za-z/_-]+`, // Slack incoming-webhook URLs carry their secret in the path
)

// realTokens are tokenShapes as real credentials look: with a body as long
// as the providers issue (a GitHub classic token is ghp_ and 36
// characters), wherever they stand ("retryghp_..."). tokenShapes masks any
// match, as a cut token must be masked too; HoldsToken, which refuses what
// the agent sends, must not refuse "task_test_42" or "weighs_1" (found in
// review), and must refuse what the log masks as a credential.
var realTokens = regexp.MustCompile(`xox[abpers]-[0-9A-Za-z-]{16,}|xapp-[0-9A-Za-z-]{16,}` +
	`|gh[pousr]_[0-9A-Za-z]{30,}|github_pat_[0-9A-Za-z_]{30,}|whsec_[0-9A-Za-z+/=]{16,}` +
	`|hooks\.slack\.com/services/[0-9A-Za-z/_-]{16,}`)

// stripeKeys are Stripe secret and restricted keys. Their prefixes end
// ordinary words ("task_test_", "risk_live_"), so a body counts only when
// it looks like Stripe's: 24 characters and more, mixing upper case, lower
// case and digits, which a hex hash or a timestamp does not (found in
// review).
var stripeKeys = regexp.MustCompile(`(?:sk|rk)_(?:test|live)_([0-9A-Za-z]{24,})`)

// HoldsToken reports whether s holds a credential of a known provider's
// shape, as issued (see realTokens and stripeKeys).
func HoldsToken(s string) bool {
	if realTokens.MatchString(s) {
		return true
	}
	for _, m := range stripeKeys.FindAllStringSubmatch(s, -1) {
		if mixedCase(m[1]) {
			return true
		}
	}
	return false
}

// mixedCase reports whether b holds an upper-case letter, a lower-case
// letter and a digit.
func mixedCase(b string) bool {
	var up, low, digit bool
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			up = true
		case c >= 'a' && c <= 'z':
			low = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return up && low && digit
}

// minHeldSecret is the shortest held value HoldsSecret looks for: a user
// may choose a 4-byte webhook signing secret ("test", "1234"), which the
// redactor masks in text, but refusing every key holding it would refuse
// ordinary keys ("smoke-test-7", "order:1234") and tell the agent it
// guessed a secret (found in review). 16 bytes is the bar urlParts uses.
const minHeldSecret = 16

// Held sets the values HoldsSecret looks for: secrets in full (a signing
// secret, a webhook URL's token), not the parts of a URL that are masked in
// text only because an error may quote them (a relay's public path or host:
// found in review). Values under 16 bytes are left out. It returns r.
func (r *Redactor) Held(values ...string) *Redactor {
	for _, v := range values {
		if len(v) >= minHeldSecret {
			// Every spelling the log masks (found in review: a quoted
			// secret in a key was masked in the log and echoed raw).
			r.held = append(r.held, spellings(v)...)
		}
	}
	return r
}

// HoldsSecret reports whether s holds a credential as issued (HoldsToken)
// or a held value (see Held).
func (r *Redactor) HoldsSecret(s string) bool {
	if HoldsToken(s) {
		return true
	}
	if r == nil {
		return false
	}
	for _, v := range r.held {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// Redactor replaces configured secret values and known token shapes. The zero
// value redacts token shapes only. A Redactor is safe for concurrent use once
// built.
type Redactor struct {
	held   []string // values HoldsSecret looks for (Held)
	values []string // each configured value and its escaped spellings, longest first
	stems  []string // per configured value, a substring of each of its spellings
}

// MinSecret is the shortest value New masks: a shorter one would mangle
// ordinary text while protecting nothing. The configuration refuses
// credentials and signing secrets shorter than this, since they could not
// be kept out of logs.
const MinSecret = 4

// New returns a Redactor for the given secret values. Empty and very short
// values (under 4 bytes) are ignored: masking them would mangle ordinary text
// while protecting nothing. Each value is also replaced in the escaped
// spellings of it that differ from it (see spellings), so a secret holding
// a quote, a backslash or a control character is still removed where an
// error quotes it.
func New(values ...string) *Redactor {
	r := &Redactor{}
	configured, seen := map[string]bool{}, map[string]bool{} // values, and every spelling registered
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < MinSecret || configured[v] {
			continue
		}
		configured[v] = true
		sp := spellings(v)
		r.stems = append(r.stems, stem(v, sp))
		for _, s := range sp {
			if !seen[s] {
				seen[s] = true
				r.values = append(r.values, s)
			}
		}
	}
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	return r
}

// maskValues replaces every stretch of s covered by some configured value
// (or spelling) with one Mask. Stretches are found for every value first
// and merged where they overlap, so two secrets that overlap in the text
// are removed whole: a replacer taking the first match at each position
// left the tail of the second (found in review).
func (r *Redactor) maskValues(s string) string {
	var spans [][2]int
	for _, v := range r.values {
		first := len(spans) // this value's spans, in order, start here
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			at := i + j
			if k := len(spans) - 1; k >= first && spans[k][1] > at {
				// Overlaps this value's previous match (a secret like
				// "aaaa" in a run of a's): one span, not one per byte
				// (found in review: 16 bytes of spans per byte of text).
				spans[k][1] = at + len(v)
			} else {
				spans = append(spans, [2]int{at, at + len(v)})
			}
			i = at + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var out strings.Builder
	out.Grow(len(s))
	at := 0
	for k := 0; k < len(spans); {
		start, end := spans[k][0], spans[k][1]
		for k++; k < len(spans) && spans[k][0] < end; k++ {
			end = max(end, spans[k][1])
		}
		out.WriteString(s[at:start])
		out.WriteString(Mask)
		at = end
	}
	out.WriteString(s[at:])
	return out.String()
}

// spellings returns v and the escaped forms in which text leaving the
// process may quote it: the inner text of Go's %q (fmt and strconv errors),
// that text as the JSON Schema validator quotes a value (\" unescaped, '
// escaped), and the inner text of a JSON string with and without HTML
// escaping (a JSON error or tool result). A secret chosen by a user (a
// webhook signing secret) may hold any of these characters. An escape is
// never shorter than what it escapes, so each spelling keeps v's minimum
// length.
func spellings(v string) []string {
	goQuoted := strconv.Quote(v)
	return []string{v, goQuoted[1 : len(goQuoted)-1], schemaQuoted(v), jsonQuoted(v, true), jsonQuoted(v, false)}
}

// schemaQuoted is the inner text of santhosh-tekuri/jsonschema's quote(),
// which its error messages wrap a value in: %q, then \" unescaped and '
// escaped, applied to the quoted text whole as the validator does (so a
// trailing backslash is spelled as it spells it).
func schemaQuoted(v string) string {
	s := fmt.Sprintf("%q", v)
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return s[1 : len(s)-1]
}

// jsonQuoted is the inner text of v encoded as a JSON string, with or
// without the HTML escapes (\u003c for <) encoding/json adds by default.
func jsonQuoted(v string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil { // a string always encodes
		return v
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	return s[1 : len(s)-1]
}

// stem returns the longest run of v's bytes that every spelling of v holds
// verbatim (printable ASCII no encoder escapes), or "" when there is none.
// Text holding no value's stem holds no spelling of any value, so String
// skips the replacer there: several Index scans cost far less than the
// replacer's walk of every byte, which escaped spellings made slower.
func stem(v string, spellings []string) string {
	best := ""
	for _, run := range strings.FieldsFunc(v, func(c rune) bool { return c < ' ' || c > '~' || strings.ContainsRune(`"'\<>&`, c) }) {
		if len(run) > len(best) {
			best = run
		}
	}
	for _, s := range spellings {
		if !strings.Contains(s, best) { // never, unless an encoder changes; "" keeps String correct
			return ""
		}
	}
	return best
}

// Longest is the length of the longest configured value, in any spelling
// it is redacted in (an escaped one may be longer), so a caller that
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

// Clip returns s redacted and cut to at most n bytes, followed by a note of
// its full length when it was cut, without ever letting a piece of a secret
// through. A huge s is cut first to n + Longest() + TokenMargin bytes, so it
// is not redacted whole; a secret or token that this first cut splits is
// not recognised by redaction, so the last Longest() + TokenMargin bytes of
// the redacted text, where such a piece can only be, are dropped too: as
// redaction shrinks what comes before it, the piece would otherwise slide
// back within n.
func (r *Redactor) Clip(s string, n int) string {
	margin := r.Longest() + TokenMargin
	if len(s) <= n+margin {
		return safetext.Clip(r.String(s), n, len(s))
	}
	red := r.String(s[:n+margin])
	red = safetext.Cut(red, len(red)-margin)
	return safetext.Cut(red, n) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// String returns s with every secret removed.
func (r *Redactor) String(s string) string {
	if r != nil && len(r.values) > 0 && r.mayHoldValue(s) {
		s = r.maskValues(s)
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

// mayHoldValue reports whether s holds some configured value's stem, short
// of which it holds no spelling of any value.
func (r *Redactor) mayHoldValue(s string) bool {
	for _, st := range r.stems {
		if strings.Contains(s, st) {
			return true
		}
	}
	return false
}

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
