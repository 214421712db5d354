package redact

import (
	"runtime"
	"strings"
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

// A secret that overlaps itself ("aaaa") in a long run of its byte is one
// span per run, not one per byte: the run is masked once, in linear time
// and memory (found in review: 16 bytes of spans per byte of text).
//
// Not parallel: it measures this process's allocations.
func TestASelfOverlappingSecretInALongRunIsMaskedOnce(t *testing.T) {
	r := New("aaaa")
	in := "x" + strings.Repeat("a", 1<<20) + "y"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out := r.String(in)
	runtime.ReadMemStats(&after)
	assert.Equal(t, "x"+Mask+"y", out)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "allocated more than 4 MiB for a 1 MiB text: a span per byte?")
}
