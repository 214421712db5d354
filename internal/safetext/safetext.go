// Package safetext makes text from outside safe to store and show: cut to a
// length at a character boundary, and valid UTF-8 without NUL (which
// PostgreSQL's text refuses).
package safetext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Cut returns s cut to at most n bytes, at a character boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Clip returns s whole when it is within n bytes, else cut to n bytes and
// followed by a note that the text was total bytes long (s may already be
// a cut of a longer text).
func Clip(s string, n, total int) string {
	if len(s) <= n {
		return s
	}
	return Cut(s, n) + "… (" + strconv.Itoa(total) + " bytes)"
}

// Valid turns NUL and invalid UTF-8 into U+FFFD.
func Valid(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}
