package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkRoundTrip measures what the transport adds to a call that needs
// no retry and no pacing: against a stub base (the overhead alone) and
// against a loopback server (the overhead in proportion).
func BenchmarkRoundTrip(b *testing.B) {
	stub := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Header: http.Header{}, Request: r}, nil
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(srv.Close)
	loopback := srv.Client().Transport

	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"stub/bare", stub},
		{"stub/httpx", New(Options{Base: stub})},
		{"loopback/bare", loopback},
		{"loopback/httpx", New(Options{Base: loopback})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
