package httpx

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A wait GitHub names (a secondary limit's retry-after, a spent window's
// reset) holds back every later request of the transport, not only the
// retry of the one it answered: GitHub's limits are per token, and requests
// sent into them "may result in the banning of your integration" (found in
// review: the call after a refused one sent its POST at once). A wait
// beyond the call's limits refuses the request unsent, naming until when;
// one within them is waited; after it, requests go again. Other providers'
// waits stay per call.
func TestAWaitGitHubNamedHoldsBackTheNextCallsToo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		provider string
		held     bool
	}{{"github", true}, {"slack", false}} {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			srv := newScripted(t,
				step{status: http.StatusForbidden, header: map[string]string{"Retry-After": "120"}, body: `{"message":"You have exceeded a secondary rate limit"}`},
				step{status: http.StatusCreated, body: `{}`},
			)
			clock := newFakeClock()
			o := testOptions(clock, srv.srv.Client().Transport)
			o.Provider = tc.provider
			o.MaxWait = 30 * time.Second
			tr := New(o)
			post := func() (*http.Response, error) {
				req, err := http.NewRequest(http.MethodPost, srv.srv.URL, strings.NewReader(`{"title":"t"}`))
				require.NoError(t, err)
				return tr.RoundTrip(req)
			}

			resp, err := post() // answered 403: a wait of 120 s is beyond MaxWait, so the call ends with it
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			require.Len(t, srv.Requests(), 1)

			resp, err = post() // the agent calls again at once
			if !tc.held {
				require.NoError(t, err)
				_ = resp.Body.Close()
				assert.Len(t, srv.Requests(), 2, "another provider's wait is per call")
				return
			}
			require.ErrorIs(t, err, ErrWaitTooLong)
			assert.True(t, NotSent(err))
			assert.ErrorContains(t, err, "github asked every request to wait until")
			assert.Len(t, srv.Requests(), 1, "nothing sent into the limit")

			clock.Advance(100 * time.Second) // 20 s left: within MaxWait, waited
			resp, err = post()
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusCreated, resp.StatusCode)
			assert.Len(t, srv.Requests(), 2)
			waits := clock.Waits()
			require.NotEmpty(t, waits)
			assert.Equal(t, 20*time.Second, waits[len(waits)-1])
		})
	}
}
