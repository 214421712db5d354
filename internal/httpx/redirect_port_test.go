package httpx

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// SameHostRedirects compares URL.Host as text: a provider URL written with
// its scheme's default port (GITHUB_API_URL=https://api.github.com:443/) or
// in another case refuses GitHub's own same-host 307 for a renamed
// repository, whose Location names the host without the port. net/http
// followed it before 4551dc9.
func TestASameHostRedirectIsFollowedWhateverTheSpellingOfTheHost(t *testing.T) {
	t.Parallel()
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: u}
	}
	for _, first := range []string{"https://api.github.com:443/repos/old/name/issues", "https://API.github.com/repos/old/name/issues"} {
		err := SameHostRedirects(req("https://api.github.com/repositories/1/issues"), []*http.Request{req(first)})
		assert.NoError(t, err, "from %s", first)
	}
}
