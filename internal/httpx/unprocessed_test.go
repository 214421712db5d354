package httpx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Only the errors net/http's HTTP/2 transport gives for a request the
// server certainly did not process let a POST be sent again; a GOAWAY that
// closed the connection never does, whatever its code or debug data say
// (found in review: "REFUSED_STREAM" or "graceful shutdown GOAWAY" anywhere
// in the text, the server's debug data included, counted as unprocessed).
func TestOnlyHTTP2ErrorsThatProveNothingWasProcessedAllowASecondPOST(t *testing.T) {
	t.Parallel()
	post := func(msg string) error {
		return fmt.Errorf(`Post "https://api.github.com/repos/o/r/issues": %w`, errors.New(msg))
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a refused stream", post("stream error: stream ID 3; REFUSED_STREAM"), true},
		{"a refused stream with a local cause", post("stream error: stream ID 5; REFUSED_STREAM; some cause"), true},
		{"a graceful GOAWAY that left the stream out", post("http2: Transport received Server's graceful shutdown GOAWAY"), true},
		{"a connection found unusable before writing", post("http2: client conn not usable"), true},
		{"another reset", post("stream error: stream ID 3; PROTOCOL_ERROR"), false},
		{"a reset whose cause mentions REFUSED_STREAM", post("stream error: stream ID 3; INTERNAL_ERROR; REFUSED_STREAM"), false},
		{"a GOAWAY that closed the connection with code REFUSED_STREAM",
			post(`http2: server sent GOAWAY and closed the connection; LastStreamID=7, ErrCode=REFUSED_STREAM, debug=""`), false},
		{"a GOAWAY whose debug data imitates the graceful one",
			post(`http2: server sent GOAWAY and closed the connection; LastStreamID=7, ErrCode=NO_ERROR, debug="http2: Transport received Server's graceful shutdown GOAWAY"`), false},
		{"a GOAWAY whose debug data imitates a refused stream",
			post(`http2: server sent GOAWAY and closed the connection; LastStreamID=7, ErrCode=NO_ERROR, debug="stream error: stream ID 3; REFUSED_STREAM"`), false},
		{"a timeout", post("context deadline exceeded"), false},
		{"no error", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, unprocessedH2(tt.err))
		})
	}
}
