package httpx

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Provider clients follow a redirect only within the same scheme, host and
// port, at most 10 times (see SameHostRedirects). The host is compared as
// an origin, not as text: a provider URL written with its scheme's default
// port (GITHUB_API_URL=https://api.github.com:443/) or in capitals refused
// GitHub's own 307 for a renamed repository (found in review).
func TestProviderClientsFollowRedirectsOnlyWithinTheirHost(t *testing.T) {
	t.Parallel()
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: u}
	}
	first := []*http.Request{req("https://api.github.com/repos/old/name/issues")}
	for _, tc := range []struct {
		name, to string
		via      []*http.Request
		refused  bool
	}{
		{"the same host (a renamed repository)", "https://api.github.com/repos/new/name/issues", first, false},
		{"another host", "https://evil.example/repos/new/name/issues", first, true},
		{"another port", "https://api.github.com:8443/x", first, true},
		{"down to plain HTTP", "http://api.github.com/x", first, true},
		{"the eleventh", "https://api.github.com/x", make([]*http.Request, 10), true},
		{"from a URL written with its default port", "https://api.github.com/x", []*http.Request{req("https://api.github.com:443/repos/old/name/issues")}, false},
		{"from a URL written in capitals", "https://api.github.com/x", []*http.Request{req("https://API.github.com/repos/old/name/issues")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			via := tc.via
			if via[0] == nil {
				via = append([]*http.Request(nil), tc.via...)
				via[0] = first[0]
			}
			err := SameHostRedirects(req(tc.to), via)
			assert.Equal(t, tc.refused, err != nil, "%v", err)
		})
	}
}
