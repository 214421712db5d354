package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Two configured secrets that overlap in a text are removed whole: a
// replacer that took the first match at each position masked one and left
// the other's tail (found in review).
func TestOverlappingSecretsAreRemovedWhole(t *testing.T) {
	t.Parallel()
	r := New("xxabc1234", "abc1234def")
	tests := []struct {
		name, in, want string
	}{
		{"the shorter first", "id=xxabc1234def;", "id=" + Mask + ";"},
		{"the longer first", "id=abc1234defxx; again xxabc1234", "id=" + Mask + "xx; again " + Mask},
		{"adjacent, not overlapping", "xxabc1234abc1234def", Mask + Mask},
		{"one inside a repeat", "xxxxabc1234", "xx" + Mask},
		{"none", "nothing secret here", "nothing secret here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, r.String(tc.in))
		})
	}
}
