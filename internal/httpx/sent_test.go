package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostRetriedAfterConnectionRefused(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 200})
	refused := closedAddr(t)
	live := srv.srv.Client().Transport
	// The first attempt dials a closed port through a real transport; the
	// second reaches the server. Both are the request as this package
	// built it, trace included.
	var calls atomic.Int32
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			r.URL.Host = refused
		}
		return live.RoundTrip(r)
	})
	clock := newFakeClock()
	client := &http.Client{Transport: New(testOptions(clock, base))}

	ctx, events := recordEvents(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.srv.URL, strings.NewReader("text=hi"))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, []seen{{method: http.MethodPost, body: "text=hi"}}, srv.Requests())
	got := events()
	require.Len(t, got, 3)
	assert.Equal(t, ReasonNotSent, got[1].Reason)
	assert.Equal(t, Event{Attempt: 2, Reason: ReasonNotSent}, got[2])
}

func TestEveryDialRefusedEndsNotSent(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	o := testOptions(clock, &http.Transport{})
	o.MaxAttempts = 3
	client := &http.Client{Transport: New(o)}

	_, err := client.Post("http://"+closedAddr(t)+"/chat.postMessage", "text/plain", strings.NewReader("hi"))
	require.Error(t, err)

	var ue *url.Error
	require.ErrorAs(t, err, &ue, "the client wraps the transport error")
	var he *Error
	require.ErrorAs(t, err, &he)
	assert.False(t, he.Sent)
	assert.Equal(t, 3, he.Attempts)
	assert.True(t, NotSent(err))
	assert.False(t, Sent(err))
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Len(t, clock.Waits(), 2)
}

func TestConnectionClosedAfterRequestWasRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		header    map[string]string
		wantHits  int32
		wantTries int
	}{
		{name: "a POST is not sent again and the error says sent", method: http.MethodPost, wantHits: 1, wantTries: 1},
		{name: "a PATCH is not sent again", method: http.MethodPatch, wantHits: 1, wantTries: 1},
		{name: "a GET is sent again up to MaxAttempts", method: http.MethodGet, wantHits: 3, wantTries: 3},
		{
			name: "a POST with an Idempotency-Key is sent again", method: http.MethodPost,
			header: map[string]string{"Idempotency-Key": "k"}, wantHits: 3, wantTries: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, hits := hangUpServer(t)
			clock := newFakeClock()
			o := testOptions(clock, srv.Client().Transport)
			o.MaxAttempts = 3
			client := &http.Client{Transport: New(o)}

			req, err := http.NewRequest(tt.method, srv.URL, strings.NewReader(`{"title":"bug"}`))
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			_, err = client.Do(req)
			require.Error(t, err)

			var he *Error
			require.ErrorAs(t, err, &he)
			assert.True(t, he.Sent)
			assert.True(t, Sent(err))
			assert.False(t, NotSent(err))
			assert.Equal(t, tt.wantTries, he.Attempts)
			assert.Equal(t, tt.wantHits, hits.Load())
			assert.Contains(t, err.Error(), "may have been sent")
		})
	}
}

func TestCancelWhileConnectingIsNotSent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	dialing := make(chan struct{})
	// A dial that never completes until the context ends: the request
	// cannot have left, whatever error the dial reports.
	base := &http.Transport{DialContext: func(dctx context.Context, _, _ string) (net.Conn, error) {
		close(dialing)
		<-dctx.Done()
		return nil, errors.New("gave up")
	}}
	tr := New(testOptions(newFakeClock(), base))
	go func() {
		<-dialing
		cancel()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:9/", strings.NewReader("x"))
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.Error(t, err)

	var he *Error
	require.ErrorAs(t, err, &he)
	assert.False(t, he.Sent)
	assert.Equal(t, 1, he.Attempts)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestBaseWithoutTraceHooks(t *testing.T) {
	t.Parallel()
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name      string
		baseErr   error
		wantCalls int32
		wantSent  bool
	}{
		{name: "a dial error proves the POST never left, so it is sent again", baseErr: dialErr, wantCalls: 3, wantSent: false},
		{name: "any other error counts as sent, so the POST is not sent again", baseErr: errors.New("read: connection reset by peer"), wantCalls: 1, wantSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			base := roundTripperFunc(func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return nil, tt.baseErr
			})
			o := testOptions(newFakeClock(), base)
			o.MaxAttempts = 3
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader("x"))
			require.NoError(t, err)
			_, err = New(o).RoundTrip(req)

			var he *Error
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tt.wantSent, he.Sent)
			assert.Equal(t, tt.wantCalls, calls.Load())
			assert.ErrorIs(t, err, tt.baseErr)
		})
	}
}

func TestCancelledBeforeFirstAttemptClosesBody(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	base := roundTripperFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, errors.New("unreachable")
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1/", body)
	require.NoError(t, err)

	_, err = New(testOptions(newFakeClock(), base)).RoundTrip(req)
	require.Error(t, err)
	assert.True(t, NotSent(err))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, calls.Load())
	assert.True(t, body.closed.Load(), "a RoundTripper closes the body even when it sends nothing")
}

func TestRateLimitRefusalsDoNotCountAsSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		header   map[string]string
		first    step
		wantSent bool
	}{
		{name: "a POST refused with 429 and then cancelled was not sent", first: step{status: 429, header: map[string]string{"Retry-After": "5"}}},
		{
			name: "a POST refused by a GitHub rate-limit 403 and then cancelled was not sent",
			first: step{status: 403, header: map[string]string{
				"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(epoch.Add(5 * time.Second).Unix()),
			}},
		},
		{
			name: "a keyed POST answered 503 and then cancelled may have been sent", header: map[string]string{"Idempotency-Key": "k"},
			first: step{status: 503}, wantSent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newScripted(t, tt.first, step{status: 201})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Cancel as the wait begins; the fake sleep then reports it.
			ctx = WithObserver(ctx, func(e Event) {
				if e.Wait > 0 {
					cancel()
				}
			})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.srv.URL, strings.NewReader("x"))
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			_, err = New(testOptions(newFakeClock(), srv.srv.Client().Transport)).RoundTrip(req)
			require.ErrorIs(t, err, context.Canceled)

			var he *Error
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tt.wantSent, he.Sent)
			assert.Equal(t, 1, he.Attempts)
			assert.Len(t, srv.Requests(), 1)
		})
	}
}

func TestARequestNetHTTPTurnsDownBeforeConnectingIsNotSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		url    string
		header map[string]string
		// wrapped hides net/http behind another RoundTripper, which fires
		// no hooks of its own, so nothing proves the request stayed.
		wrapped   bool
		wantSent  bool
		wantInErr string
	}{
		{
			name: "a URL without a scheme was not sent and is not sent again",
			url:  "ghe.example.com/api/v3/repos/acme/app/issues", wantInErr: "unsupported protocol scheme",
		},
		{name: "a URL without a host was not sent and is not sent again", url: "http:///repos/acme/app/issues", wantInErr: "no Host"},
		{
			name: "an invalid header value was not sent and is not sent again", url: "http://127.0.0.1:9/",
			header: map[string]string{"X-Title": "a\nb"}, wantInErr: "invalid header",
		},
		{
			name: "behind a base that is not net/http's Transport the same failure counts as sent",
			url:  "ghe.example.com/api/v3/repos/acme/app/issues", wrapped: true, wantSent: true, wantInErr: "unsupported protocol scheme",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var base http.RoundTripper = &http.Transport{}
			if tt.wrapped {
				inner := base
				base = roundTripperFunc(func(r *http.Request) (*http.Response, error) { return inner.RoundTrip(r) })
			}
			clock := newFakeClock()
			o := testOptions(clock, base)
			o.MaxAttempts = 3
			req, err := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(`{"title":"bug"}`))
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header[k] = []string{v}
			}
			_, err = New(o).RoundTrip(req)
			require.Error(t, err)

			var he *Error
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tt.wantSent, he.Sent)
			assert.Equal(t, !tt.wantSent, NotSent(err))
			assert.Equal(t, 1, he.Attempts, "it would fail the same way again")
			assert.Empty(t, clock.Waits())
			assert.Contains(t, err.Error(), tt.wantInErr)
		})
	}
}
