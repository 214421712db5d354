package httpx

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// epoch is the fake clock's start: whole seconds, so HTTP dates and epoch
// resets built from it compare exactly.
var epoch = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is an injected clock whose Sleep records the wait and moves
// time forward instead of sleeping.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// step is one scripted response.
type step struct {
	status int
	header map[string]string
	body   string
}

// seen is what the server received.
type seen struct {
	method string
	body   string
}

// scripted is a test server that answers with steps in order, repeating
// the last one, and records every request.
type scripted struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func (s *scripted) Requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func newScripted(t *testing.T, steps ...step) *scripted {
	t.Helper()
	s := &scripted{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, seen{method: r.Method, body: string(body)})
		s.mu.Unlock()
		st := steps[min(n, len(steps)-1)]
		for k, v := range st.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(st.status)
		_, _ = io.WriteString(w, st.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// testOptions are Options with the fake clock, a fixed jitter draw and
// the server's own transport as base.
func testOptions(clock *fakeClock, base http.RoundTripper) Options {
	return Options{
		Provider: "test",
		Base:     base,
		Now:      clock.Now,
		Sleep:    clock.Sleep,
		Rand:     func() float64 { return 0.5 },
	}
}

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closedAddr returns a loopback address nothing listens on any more, so a
// dial to it is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// hangUpServer reads each request whole, then closes the connection
// without answering: the request arrived, the caller cannot know its fate.
func hangUpServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		hits.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// recordEvents returns a context that records observer events.
func recordEvents(ctx context.Context) (context.Context, func() []Event) {
	var mu sync.Mutex
	var events []Event
	ctx = WithObserver(ctx, func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	})
	return ctx, func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), events...)
	}
}

// closeTracker is a body that records whether it was read to the end and
// closed.
type closeTracker struct {
	io.Reader
	eof    atomic.Bool
	closed atomic.Bool
}

func (c *closeTracker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	if err == io.EOF {
		c.eof.Store(true)
	}
	return n, err
}

func (c *closeTracker) Close() error {
	c.closed.Store(true)
	return nil
}
