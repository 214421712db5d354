package safetext

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCutAndClipKeepWholeCharacters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s        string
		n        int
		cut      string
		clip     string
		clipOver int
	}{
		{"abc", 5, "abc", "abc", 3},
		{"abcdef", 3, "abc", "abc… (6 bytes)", 6},
		{"日本語", 4, "日", "日… (9 bytes)", 9}, // 3-byte characters: never half of one
		{"日本語", 6, "日本", "日本… (9 bytes)", 9},
		{"ab", 0, "", "… (2 bytes)", 2},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.cut, Cut(tt.s, tt.n), "Cut(%q, %d)", tt.s, tt.n)
		assert.Equal(t, tt.clip, Clip(tt.s, tt.n, tt.clipOver), "Clip(%q, %d)", tt.s, tt.n)
	}
	assert.Equal(t, "abc… (4096 bytes)", Clip("abcdef", 3, 4096), "the note says the length of the text it was cut from")
}

func TestValidMakesTextStorable(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "plain é", Valid("plain é"))
	assert.Equal(t, "door\uFFFDlock", Valid("door\x00lock"))
	assert.Equal(t, "caf\uFFFD", Valid("caf\xe9"))
}
