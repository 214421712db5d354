package stripe

import (
	"context"
	"net/http"
	"sync/atomic"
)

// stripe-go drops the HTTP status when an error body is not Stripe's JSON
// (an HTML 502 from a proxy, say). statusTransport notes the status of each
// response in a slot carried by the request context, so the error can still
// say it.

type statusKey struct{}

type statusSlot struct{ status atomic.Int32 }

func withStatusSlot(ctx context.Context) (context.Context, *statusSlot) {
	s := &statusSlot{}
	return context.WithValue(ctx, statusKey{}, s), s
}

type statusTransport struct{ base http.RoundTripper }

func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if s, ok := req.Context().Value(statusKey{}).(*statusSlot); ok && resp != nil {
		s.status.Store(int32(resp.StatusCode))
	}
	return resp, err
}
