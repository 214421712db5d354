package audit

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ReadBackward reads exactly the records Read reads, newest first, whatever
// the lines' sizes around its chunk size, with or without a partial last
// line, CRLF and empty lines.
func TestReadBackwardMatchesReadAtChunkBoundaries(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 40 {
		var buf bytes.Buffer
		var want []string
		n := 1 + rng.IntN(12)
		for i := range n {
			size := backChunk - 200 + rng.IntN(400)
			if rng.IntN(3) == 0 {
				size = rng.IntN(300)
			}
			if rng.IntN(6) == 0 {
				size = 2*backChunk + rng.IntN(50) - 25
			}
			tgt := strings.Repeat("t", size)
			line, err := appendRecord(nil, &Record{Actor: "a", Target: tgt, Status: "s" + itoa(i)}, &bytes.Buffer{})
			require.NoError(t, err)
			if rng.IntN(5) == 0 {
				line = append(line[:len(line)-1], '\r', '\n')
			}
			buf.Write(line)
			if rng.IntN(5) == 0 {
				buf.WriteString("\n")
			}
			want = append(want, "s"+itoa(i))
		}
		if rng.IntN(2) == 0 {
			buf.WriteString(`{"ts":"2026-01-01T00:00:00Z","act` + strings.Repeat("p", rng.IntN(3*backChunk)))
		}
		var got []string
		err := ReadBackward(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), func(r Record) (bool, error) {
			got = append(got, r.Status)
			return true, nil
		})
		require.NoError(t, err, "iter %d", iter)
		for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
			got[i], got[j] = got[j], got[i]
		}
		require.Equal(t, want, got, "iter %d", iter)
	}
}
