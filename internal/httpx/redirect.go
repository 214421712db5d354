package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrRedirectElsewhere is returned by SameHostRedirects for a redirect to
// another scheme, host or port than the request's.
var ErrRedirectElsewhere = errors.New("redirect to another host refused: the request's credentials would follow it")

// SameHostRedirects is an http.Client CheckRedirect for provider clients:
// a redirect is followed only to the same scheme, host and port, at most 10
// times. net/http drops the Authorization header on a redirect to another
// host, but not the body, and slack-go sends the bot token in the form
// body: a 307 from SLACK_API_URL (a proxy, a misconfigured URL) would post
// the token to wherever it points. A redirect within the provider's own API
// (GitHub's 307 for a renamed repository) is still followed.
func SameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, first.Scheme) || origin(req.URL) != origin(first) {
		return fmt.Errorf("%w (%s to %s://%s)", ErrRedirectElsewhere, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// origin is u's host, lower-cased, and port, the scheme's default when none
// is written: api.github.com:443 and API.github.com are api.github.com
// (found in review: a URL written with its port refused GitHub's own
// redirects).
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}
