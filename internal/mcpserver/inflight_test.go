package mcpserver

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The end of input is passed on only once no call runs; a SIGTERM (ctx)
// ends the wait at once.
func TestTheEndOfInputWaitsForRunningCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cancel bool // ctx ends while a call still runs
	}{
		{"the call ends", false},
		{"ctx ends first", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f InFlight
			f.n.Add(1) // a call running
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := f.HoldEOF(ctx, strings.NewReader("line\n"))
			b, err := io.ReadAll(io.LimitReader(r, 5))
			require.NoError(t, err)
			assert.Equal(t, "line\n", string(b))
			eof := make(chan error, 1)
			go func() { _, err := r.Read(make([]byte, 8)); eof <- err }()
			select {
			case <-eof:
				t.Fatal("the end of input was passed on while a call ran")
			case <-time.After(100 * time.Millisecond):
			}
			if tt.cancel {
				cancel()
			} else {
				f.n.Add(-1)
			}
			select {
			case err := <-eof:
				assert.ErrorIs(t, err, io.EOF)
			case <-time.After(5 * time.Second):
				t.Fatal("the end of input never came")
			}
		})
	}
	var none *InFlight
	r := strings.NewReader("")
	assert.Same(t, io.Reader(r), none.HoldEOF(context.Background(), r), "nil passes the reader through")
}
