package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shortTimeout is the AttemptTimeout of tests whose server stalls until the
// client gives up, so its length decides only how long they take.
const shortTimeout = 100 * time.Millisecond

// stallingServer answers each request by the script in answer: headers
// (status 0 sends none), then part of a body, then nothing more until
// release is closed or the client goes away. It counts requests.
type stallingServer struct {
	srv     *httptest.Server
	hits    atomic.Int32
	release chan struct{}
	once    sync.Once
}

// Release lets every stalled answer go on.
func (s *stallingServer) Release() { s.once.Do(func() { close(s.release) }) }

type stallAnswer struct {
	status int
	// first is sent and flushed before the stall, rest after it.
	first, rest string
}

func newStallingServer(t *testing.T, answer func(hit int32) stallAnswer) *stallingServer {
	t.Helper()
	s := &stallingServer{release: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a := answer(s.hits.Add(1))
		if a.status == 0 {
			select {
			case <-s.release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.first)
		w.(http.Flusher).Flush()
		if a.rest == "" {
			return
		}
		select {
		case <-s.release:
			_, _ = io.WriteString(w, a.rest)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.srv.Close)
	t.Cleanup(s.Release) // runs before Close
	return s
}

// hungTestGuard is a caller deadline that only stops a test whose attempt
// deadline does not work; such a test then fails rather than hangs.
func hungTestGuard(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAttemptTimeoutEndsAnAttemptThatGetsNoAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		header      map[string]string
		maxCallWait time.Duration
		// dialHangs makes the connection never open, instead of the
		// server never answering.
		dialHangs  bool
		wantTries  int
		wantSent   bool
		wantReason string
	}{
		{
			name: "a GET whose headers never come is sent again up to MaxAttempts", method: http.MethodGet,
			wantTries: 3, wantSent: true, wantReason: ReasonTimeout,
		},
		{
			name: "a POST whose headers never come is not sent again and may have been sent", method: http.MethodPost,
			wantTries: 1, wantSent: true,
		},
		{
			name: "a POST with an Idempotency-Key whose headers never come is sent again", method: http.MethodPost,
			header: map[string]string{"Idempotency-Key": "k"}, wantTries: 3, wantSent: true, wantReason: ReasonTimeout,
		},
		{
			name: "a GET that timed out is not sent again when the backoff does not fit MaxCallWait", method: http.MethodGet,
			maxCallWait: time.Nanosecond, wantTries: 1, wantSent: true,
		},
		{
			name: "a POST whose connection never opened was not sent and is sent again", method: http.MethodPost,
			dialHangs: true, wantTries: 3, wantSent: false, wantReason: ReasonNotSent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newStallingServer(t, func(int32) stallAnswer { return stallAnswer{} })
			base := srv.srv.Client().Transport
			var dials atomic.Int32
			if tt.dialHangs {
				base = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					dials.Add(1)
					<-ctx.Done()
					return nil, errors.New("gave up")
				}}
			}
			clock := newFakeClock()
			o := testOptions(clock, base)
			o.MaxAttempts, o.AttemptTimeout, o.MaxCallWait = 3, shortTimeout, tt.maxCallWait

			ctx, events := recordEvents(hungTestGuard(t))
			req, err := http.NewRequestWithContext(ctx, tt.method, srv.srv.URL, strings.NewReader("x"))
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			_, err = New(o).RoundTrip(req)
			require.Error(t, err)

			require.ErrorIs(t, err, ErrAttemptTimeout, "the attempt's deadline ended it, not the caller's")
			assert.Contains(t, err.Error(), "attempt timed out after 100ms")
			var he *Error
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tt.wantSent, he.Sent)
			assert.Equal(t, tt.wantSent, Sent(err))
			assert.Equal(t, tt.wantTries, he.Attempts)
			if tt.dialHangs {
				assert.Equal(t, int32(tt.wantTries), dials.Load())
				assert.Zero(t, srv.hits.Load())
			} else {
				assert.Equal(t, int32(tt.wantTries), srv.hits.Load())
			}
			assert.Len(t, clock.Waits(), tt.wantTries-1)
			for _, e := range events() {
				if e.Wait > 0 {
					assert.Equal(t, tt.wantReason, e.Reason)
				}
			}
		})
	}
}

func TestAttemptTimeoutCoversTheResponseBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		// stall keeps the rest of the body from ever coming; otherwise it
		// comes once the client has read the first part.
		stall bool
	}{
		{
			name: "a body that stalls after the headers fails the read, saying the attempt timed out and the request may have been sent",
			// Long enough for the headers, short enough for the test.
			timeout: shortTimeout, stall: true,
		},
		{
			name: "a body that arrives in parts within the deadline is read whole after RoundTrip has returned",
			// Never reached: the rest comes as soon as it is asked for.
			timeout: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newStallingServer(t, func(int32) stallAnswer {
				return stallAnswer{status: http.StatusCreated, first: `{"number":`, rest: `1}`}
			})
			o := testOptions(newFakeClock(), srv.srv.Client().Transport)
			o.AttemptTimeout = tt.timeout
			req, err := http.NewRequestWithContext(hungTestGuard(t), http.MethodPost, srv.srv.URL, strings.NewReader("x"))
			require.NoError(t, err)
			resp, err := New(o).RoundTrip(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusCreated, resp.StatusCode)

			first := make([]byte, len(`{"number":`))
			_, err = io.ReadFull(resp.Body, first)
			require.NoError(t, err)
			if !tt.stall {
				srv.Release()
			}
			rest, err := io.ReadAll(resp.Body)
			if !tt.stall {
				require.NoError(t, err)
				assert.Equal(t, `{"number":1}`, string(first)+string(rest))
				return
			}
			require.ErrorIs(t, err, ErrAttemptTimeout, "the attempt's deadline ended the read, not the caller's")
			assert.Contains(t, err.Error(), "read response body: attempt timed out after 100ms")
			assert.Contains(t, err.Error(), "may have been sent")
			var he *Error
			require.ErrorAs(t, err, &he)
			assert.True(t, he.Sent)
			assert.True(t, Sent(err), "a created issue whose answer is lost is in doubt")
			assert.Equal(t, 1, he.Attempts)
			assert.Equal(t, int32(1), srv.hits.Load())
		})
	}
}

func TestAStalledBodyOfARetriedAnswerDoesNotHoldTheCall(t *testing.T) {
	t.Parallel()
	// The first answer is a 503 whose body never ends; the transport
	// drains it before retrying, which must stop at the attempt deadline.
	srv := newStallingServer(t, func(hit int32) stallAnswer {
		if hit == 1 {
			return stallAnswer{status: http.StatusServiceUnavailable, first: "busy", rest: "never"}
		}
		return stallAnswer{status: http.StatusOK, first: "ok"}
	})
	clock := newFakeClock()
	o := testOptions(clock, srv.srv.Client().Transport)
	o.AttemptTimeout = shortTimeout
	req, err := http.NewRequestWithContext(hungTestGuard(t), http.MethodGet, srv.srv.URL, nil)
	require.NoError(t, err)
	resp, err := New(o).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(body))
	assert.Equal(t, int32(2), srv.hits.Load())
	assert.Len(t, clock.Waits(), 1)
}

func TestTheAttemptDeadlineIsReleased(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		status int
		// read is how much of the body is read before Close: -1 all.
		read int
		// failed is a call that ends without a response.
		failed bool
		// openUntilClose says the deadline lives on until the body is
		// closed; otherwise it is released by the time RoundTrip returns.
		openUntilClose bool
	}{
		{name: "a body closed before it was read releases it on Close", method: http.MethodGet, status: 200, openUntilClose: true},
		{name: "a body closed half read releases it on Close", method: http.MethodGet, status: 200, read: 3, openUntilClose: true},
		{name: "a body read to the end releases it on Close", method: http.MethodGet, status: 200, read: -1, openUntilClose: true},
		{name: "an answer without a body releases it at once", method: http.MethodGet, status: http.StatusNoContent},
		{name: "a HEAD answer releases it at once", method: http.MethodHead, status: 200},
		{name: "a call that failed releases it", method: http.MethodPost, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var url string
			var live http.RoundTripper
			if tt.failed {
				srv, _ := hangUpServer(t)
				url, live = srv.URL, srv.Client().Transport
			} else {
				srv := newScripted(t, step{status: tt.status, body: "0123456789"})
				url, live = srv.srv.URL, srv.srv.Client().Transport
			}
			var mu sync.Mutex
			var attempts []context.Context
			base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				attempts = append(attempts, r.Context())
				mu.Unlock()
				return live.RoundTrip(r)
			})
			o := testOptions(newFakeClock(), base)
			o.AttemptTimeout = time.Hour // never reached: only release can end it
			req, err := http.NewRequest(tt.method, url, strings.NewReader("x"))
			require.NoError(t, err)

			resp, err := New(o).RoundTrip(req)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, attempts, 1)
			ctx := attempts[0]
			if tt.failed {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				if tt.openUntilClose {
					require.NoError(t, ctx.Err(), "the deadline still covers the unread body")
					switch {
					case tt.read < 0:
						_, err = io.ReadAll(resp.Body)
						require.NoError(t, err)
						require.NoError(t, ctx.Err(), "reading to the end is not closing")
					case tt.read > 0:
						_, err = io.ReadFull(resp.Body, make([]byte, tt.read))
						require.NoError(t, err)
					}
				}
				require.NoError(t, resp.Body.Close())
			}
			require.ErrorIs(t, ctx.Err(), context.Canceled, "released, not timed out")
			assert.ErrorIs(t, context.Cause(ctx), context.Canceled)
		})
	}
}
