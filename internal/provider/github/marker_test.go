package github

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestAMarkerMatchesOnlyItsOwnKeyAndClaim: a key that expired and was
// claimed again writes the same key into its issue, so the marker names the
// claim too, and an issue matches only the life of the key that opened it.
// A marker written before claims were marked names none and matches on the
// key alone, so a call in doubt across the upgrade is still found.
func TestAMarkerMatchesOnlyItsOwnKeyAndClaim(t *testing.T) {
	t.Parallel()
	claim := time.Unix(1796443949, 250_000_000)
	sameSecond := time.Unix(1796443949, 999_999_000) // PostgreSQL's microseconds, SQLite's nanoseconds: one second
	next := claim.Add(time.Second)
	tests := []struct {
		name string
		body string
		key  string
		at   time.Time
		want bool
	}{
		{"the same key and claim", "text\n\n" + Marker("k", claim), "k", claim, true},
		{"the same claim read back at another precision", Marker("k", claim), "k", sameSecond, true},
		{"a lone marker, no text before it", Marker("k", claim), "k", claim, true},
		{"GitHub's CRLF and a trailing newline", "text\r\n\r\n" + Marker("k", claim) + "\r\n", "k", claim, true},
		{"another claim: an earlier life of the key", "text\n\n" + Marker("k", claim), "k", next, false},
		{"another claim a second earlier", "text\n\n" + Marker("k", next), "k", claim, false},
		{"a legacy marker, without a claim", "text\n\n" + Marker("k", time.Time{}), "k", claim, true},
		{"a legacy marker, written literally", "text\n\n<!-- saas-mcp:key=k -->", "k", claim, true},
		{"the key is a prefix of the marker's", "text\n\n" + Marker("k2", claim), "k", claim, false},
		{"the marker's key is a prefix of the key", "text\n\n" + Marker("k", claim), "k2", claim, false},
		{"a key ending in the other", "text\n\n" + Marker("xk", claim), "k", claim, false},
		{"a legacy marker of a longer key", "text\n\n" + Marker("k2", time.Time{}), "k", claim, false},
		// The whole marker names the key and the claim, so this call's
		// counts anywhere in the body: a note appended after it must not
		// hide the issue (found in review). Another call's, or a key's
		// comment alone, still does not match inside the text.
		{"a note appended after the marker", "text\n\n" + Marker("k", claim) + "\r\n\r\nUpdate: also on Safari.", "k", claim, true},
		{"the call's own marker quoted inside the text", "see " + Marker("k", claim) + " above", "k", claim, true},
		{"another claim's marker inside the text", "see " + Marker("k", next) + " above", "k", claim, false},
		{"another call's issue quoting this call's marker", "was:\n\n" + Marker("k", claim) + "\n\nsame here\n\n" + Marker("k2", next), "k", claim, false},
		{"another key's marker inside the text", "see " + Marker("k2", claim) + " above", "k", claim, false},
		{"a legacy marker inside the text", "see " + Marker("k", time.Time{}) + " above", "k", claim, false},
		{"a claim quoted apart from the key: the key alone", "<!-- saas-mcp:claim=1 -->\n\n" + Marker("k", time.Time{}), "k", claim, true},
		{"a claim comment that is not a number: the key alone", "<!-- saas-mcp:claim=-5 -->" + Marker("k", time.Time{}), "k", claim, true},
		{"no marker", "just text", "k", claim, false},
		{"an empty body", "", "k", claim, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, hasMarker(tt.body, tt.key, tt.at), "%q", tt.body)
		})
	}
}
