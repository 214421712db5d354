package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestAfterFirstLineRunsOnceTheFirstResponseIsWrittenAndOnlyOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		fail   bool
		runs   int
	}{
		{"nothing written", nil, false, 0},
		{"a line without its end yet", []string{`{"jsonrpc":"2.0","id":1`}, false, 0},
		{"the line ends in a later write", []string{`{"jsonrpc":"2.0","id":1`, ",\"result\":{}}\n"}, false, 1},
		{"many lines", []string{"{}\n", "{}\n", "{}\n{}\n"}, false, 1},
		{"a failed write", []string{"{}\n"}, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			runs := 0
			a := &afterFirstLine{w: &buf, then: func() { runs++ }}
			if tc.fail {
				a.w = failingWriter{}
			}
			for _, w := range tc.writes {
				_, _ = a.Write([]byte(w))
			}
			assert.Equal(t, tc.runs, runs)
			if !tc.fail {
				assert.Equal(t, strings.Join(tc.writes, ""), buf.String(), "every byte passed through")
			}
		})
	}
}
