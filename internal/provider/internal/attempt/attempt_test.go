package attempt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMayHaveSentTellsWhetherARequestLeft(t *testing.T) {
	t.Parallel()
	// hangUp reads the whole request, then closes without an answer.
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	tests := []struct {
		name      string
		url       string
		transport http.RoundTripper
		ctx       func(context.Context) context.Context
		want      bool
	}{
		{name: "a request cut off after it had a connection may have been acted on", url: hangUp.URL, want: true},
		{name: "a refused connection sent nothing", url: refused, want: false},
		{name: "a context ended before sending sent nothing", url: hangUp.URL, want: false,
			ctx: func(ctx context.Context) context.Context {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx
			}},
		{name: "an untraced transport's unknown error counts as sent", url: "http://example.invalid", want: true,
			transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, io.ErrUnexpectedEOF })},
		{name: "an untraced transport's dial error did not send", url: "http://example.invalid", want: false,
			transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}
			})},
		{name: "an untraced transport's context error did not send", url: "http://example.invalid", want: false,
			transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, context.Canceled })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			ctx, at := attempt.Track(ctx)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, strings.NewReader("a=1"))
			require.NoError(t, err)
			_, err = (&http.Client{Transport: tt.transport}).Do(req)
			require.Error(t, err)
			assert.Equal(t, tt.want, at.MayHaveSent(err), "%v", err)
		})
	}
}

func TestScrubberRemovesSecretsButKeepsTheChain(t *testing.T) {
	t.Parallel()
	sc := attempt.Scrubber{redact.New("s3cret-value"), nil, redact.New("127.0.0.1:9")}
	ue := &url.Error{Op: "Post", URL: "http://127.0.0.1:9/hook/s3cret-value", Err: context.DeadlineExceeded}
	err := sc.Error(fmt.Errorf("post with xoxb-123-abc: %w", ue))

	assert.NotContains(t, err.Error(), "s3cret-value")
	assert.NotContains(t, err.Error(), "xoxb-123-abc")
	assert.NotContains(t, err.Error(), "127.0.0.1:9")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var got *url.Error
	require.ErrorAs(t, err, &got)
	assert.NotContains(t, got.URL, "s3cret-value", "the URL inside is scrubbed too")
	assert.NoError(t, sc.Error(nil))
}
