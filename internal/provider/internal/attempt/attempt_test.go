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

func TestTrackErrorBodyKeepsTheStartOfAFailedAnswerAndTheSDKStillReadsItWhole(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name     string
		status   int
		body     string
		errBody  bool // TrackErrorBody rather than Track
		wantKept string
	}{
		{name: "a failed answer's reason is kept", status: 410, body: "channel_is_archived", errBody: true, wantKept: "channel_is_archived"},
		{name: "only the first 200 bytes of a long body are kept", status: 500, body: long, errBody: true, wantKept: long[:200]},
		{name: "a 2xx answer's body is not kept", status: 200, body: "ok", errBody: true},
		{name: "a call tracked by Track keeps nothing", status: 404, body: "no_service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			track := attempt.Track
			if tt.errBody {
				track = attempt.TrackErrorBody
			}
			ctx, at := track(t.Context())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
			require.NoError(t, err)
			resp, err := attempt.WithTransport(nil).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			assert.Equal(t, tt.body, string(got), "the SDK reads the whole body")
			assert.Equal(t, tt.wantKept, string(at.ErrorBody()))
			assert.Equal(t, tt.status, at.Status())
		})
	}
}

func TestTrackErrorBodyHandsTheSDKTheErrorThatCutTheBodyShort(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	tracker := &closeTracker{r: io.MultiReader(strings.NewReader("no_ser"), errReader{boom})}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 404, Body: tracker, Header: http.Header{}}, nil
	})
	ctx, at := attempt.TrackErrorBody(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://example.invalid", nil)
	require.NoError(t, err)
	resp, err := attempt.Transport{Base: base}.RoundTrip(req)
	require.NoError(t, err)

	assert.Equal(t, "no_ser", string(at.ErrorBody()))
	got, err := io.ReadAll(resp.Body)
	assert.Equal(t, "no_ser", string(got))
	require.ErrorIs(t, err, boom)
	require.NoError(t, resp.Body.Close())
	assert.True(t, tracker.closed, "closing the body closes the answer's")
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// closeTracker is a body that records its Close.
type closeTracker struct {
	r      io.Reader
	closed bool
}

func (c *closeTracker) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *closeTracker) Close() error {
	c.closed = true
	return nil
}
