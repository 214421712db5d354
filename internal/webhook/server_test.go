package webhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// net/http counts WriteTimeout from the end of the headers: the answer of a
// delivery comes after its body's read (up to ReadTimeout) and its group
// commit (up to enqueueWait), so the default must leave room for both, or
// a slow but legitimate delivery is stored and its answer cut off (found in
// review: both were 60 s).
func TestTheAnswersTimeoutCoversTheBodysReadAndTheStoresWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    ServerOptions
	}{
		{"defaults", ServerOptions{}},
		{"a longer read timeout", ServerOptions{ReadTimeout: 5 * time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := NewServer("127.0.0.1:0", nil, tc.o)
			assert.GreaterOrEqual(t, srv.WriteTimeout, srv.ReadTimeout+enqueueWait)
		})
	}
}
