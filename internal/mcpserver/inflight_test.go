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

// A request read but not yet running (queued for a worker, or its line
// still being parsed) holds the end of input until its answer is written;
// a notification owes nothing; a request never answered holds it only
// until the give-up time (found in review: a call whose handler started
// over 50 ms after the end, behind a 24 MB line, was cancelled).
func TestTheEndOfInputWaitsForTheAnswersOwed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		input   string
		answer  string // written to the output after 150 ms; "" writes nothing
		giveUp  time.Duration
		minWait time.Duration // the end must not come before
	}{
		{"a request answered late", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}` + "\n",
			`{"jsonrpc":"2.0","id":7,"result":{}}` + "\n", time.Minute, 150 * time.Millisecond},
		{"an unterminated request answered late", `{"jsonrpc":"2.0","id":"x","method":"tools/call"}`,
			`{"jsonrpc":"2.0","id":"x","result":{}}` + "\n", time.Minute, 150 * time.Millisecond},
		{"a notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n", "", time.Minute, 0},
		{"the client's answer with a result (mcp-go drops it)", `{"jsonrpc":"2.0","id":3,"result":{}}` + "\n", "", time.Minute, 0},
		{"the client's error answer (mcp-go answers it)", `{"jsonrpc":"2.0","id":"s","error":{"code":1,"message":"x"}}` + "\n",
			`{"jsonrpc":"2.0","id":"s","error":{"code":-32601,"message":"Method  not found"}}` + "\n", time.Minute, 150 * time.Millisecond},
		{"a request never answered", `{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n", "", 300 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &InFlight{giveUp: tt.giveUp}
			out := f.Output(io.Discard)
			r := f.HoldEOF(context.Background(), strings.NewReader(tt.input))
			start := time.Now()
			if tt.answer != "" {
				go func() {
					time.Sleep(150 * time.Millisecond)
					_, _ = io.WriteString(out, tt.answer)
				}()
			}
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, strings.TrimSuffix(tt.input, "\n")+"\n", string(b))
			assert.GreaterOrEqual(t, time.Since(start), tt.minWait)
			assert.Less(t, time.Since(start), 10*time.Second)
		})
	}
}
