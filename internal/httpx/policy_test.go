package httpx

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// permissionBody is GitHub's answer to a token that may not create issues.
const permissionBody = `{"message":"Resource not accessible by personal access token",` +
	`"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"403"}`

func TestA403ThatSpendsThePrimaryWindowIsARateLimitOnlyWhenItsBodySaysSo(t *testing.T) {
	t.Parallel()
	reset := strconv.FormatInt(epoch.Add(25*time.Second).Unix(), 10)
	spent := map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
	tests := []struct {
		name      string
		first     step
		wantHits  int
		wantWaits []time.Duration
	}{
		{
			name:     "a permission error that spent the last unit is returned at once",
			first:    step{status: 403, header: spent, body: permissionBody},
			wantHits: 1,
		},
		{
			name:     "a GitHub App's permission error that spent the last unit is returned at once",
			first:    step{status: 403, header: spent, body: `{"message":"Resource not accessible by integration"}`},
			wantHits: 1,
		},
		{
			name:     "GitHub's primary limit message waits until the reset",
			first:    step{status: 403, header: spent, body: `{"message":"API rate limit exceeded for user ID 1."}`},
			wantHits: 2, wantWaits: []time.Duration{25 * time.Second},
		},
		{
			name:     "a secondary limit without retry-after that spent the window waits until the reset",
			first:    step{status: 403, header: spent, body: `{"message":"You have exceeded a secondary rate limit."}`},
			wantHits: 2, wantWaits: []time.Duration{25 * time.Second},
		},
		{
			name: "the rate-limit message is found after other fields",
			first: step{status: 403, header: spent,
				body: `{"padding":"` + strings.Repeat("x", 3000) + `","message":"API Rate Limit Exceeded"}`},
			wantHits: 2, wantWaits: []time.Duration{25 * time.Second},
		},
		{
			name:     "an empty body is a rate limit, as GitHub documents a 403 with remaining 0",
			first:    step{status: 403, header: spent},
			wantHits: 2, wantWaits: []time.Duration{25 * time.Second},
		},
		{
			name: "a secondary limit with retry-after waits it whatever the body",
			first: step{status: 403, body: permissionBody,
				header: map[string]string{"Retry-After": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}},
			wantHits: 2, wantWaits: []time.Duration{5 * time.Second},
		},
		{
			name:     "a 429 that spent the window is a rate limit whatever the body",
			first:    step{status: 429, header: spent, body: permissionBody},
			wantHits: 2, wantWaits: []time.Duration{25 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newScripted(t, tt.first, step{status: 201, body: `{"number":1}`})
			clock := newFakeClock()
			req, err := http.NewRequest(http.MethodPost, srv.srv.URL, strings.NewReader(`{"title":"t"}`))
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: New(testOptions(clock, srv.srv.Client().Transport))}).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()

			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			if tt.wantHits == 1 {
				assert.Equal(t, tt.first.status, resp.StatusCode)
				assert.Equal(t, tt.first.body, string(body), "the caller reads the whole body, peeked part included")
			} else {
				assert.Equal(t, http.StatusCreated, resp.StatusCode)
			}
			assert.Len(t, srv.Requests(), tt.wantHits)
			assert.Equal(t, tt.wantWaits, clock.Waits())
		})
	}
}

func TestAPeeked403BodyLongerThanThePeekReachesTheCallerWhole(t *testing.T) {
	t.Parallel()
	body := `{"message":"Resource not accessible by integration","detail":"` + strings.Repeat("y", 3*rateLimitPeek) + `"}`
	srv := newScripted(t, step{status: 403, body: body, header: map[string]string{
		"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(epoch.Add(time.Second).Unix(), 10),
	}})
	req, err := http.NewRequest(http.MethodPost, srv.srv.URL, strings.NewReader("x"))
	require.NoError(t, err)
	resp, err := New(testOptions(newFakeClock(), srv.srv.Client().Transport)).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, body, string(got))
	assert.Len(t, srv.Requests(), 1)
}

func TestA403BodyThatStallsWhilePeekedIsNotARateLimitAndFailsTheCallersRead(t *testing.T) {
	t.Parallel()
	srv := newStallingServer(t, func(int32) stallAnswer {
		return stallAnswer{status: http.StatusForbidden, first: `{"message":"Resource not`, rest: ` accessible by integration"}`}
	})
	// The stalling server sends no rate-limit headers; add them in front.
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := srv.srv.Client().Transport.RoundTrip(r)
		if err == nil {
			resp.Header.Set("X-RateLimit-Remaining", "0")
			resp.Header.Set("X-RateLimit-Reset", strconv.FormatInt(epoch.Add(time.Second).Unix(), 10))
		}
		return resp, err
	})
	clock := newFakeClock()
	o := testOptions(clock, base)
	o.AttemptTimeout = shortTimeout
	req, err := http.NewRequestWithContext(hungTestGuard(t), http.MethodPost, srv.srv.URL, strings.NewReader("x"))
	require.NoError(t, err)

	start := time.Now()
	resp, err := New(o).RoundTrip(req)
	require.NoError(t, err, "the 403 itself is the answer")
	defer resp.Body.Close()
	assert.Less(t, time.Since(start), 5*time.Second, "the peek must end with the attempt's deadline")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	got, err := io.ReadAll(resp.Body)
	assert.Equal(t, `{"message":"Resource not`, string(got), "the peeked bytes come back before the error")
	require.ErrorIs(t, err, ErrAttemptTimeout)
	var he *Error
	require.ErrorAs(t, err, &he)
	assert.True(t, he.Sent)
	assert.Equal(t, int32(1), srv.hits.Load())
	assert.Empty(t, clock.Waits())
}

func TestPeekBodyPutsBackWhatItReadAndReplaysAReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	tracker := &closeTracker{Reader: io.MultiReader(strings.NewReader("abc"), failingReader{err: boom})}
	resp := &http.Response{Body: tracker}

	prefix, err := PeekBody(resp, 10)
	assert.Equal(t, "abc", string(prefix))
	require.ErrorIs(t, err, boom)

	got, err := io.ReadAll(resp.Body)
	assert.Equal(t, "abc", string(got))
	require.ErrorIs(t, err, boom)
	require.NoError(t, resp.Body.Close())
	assert.True(t, tracker.closed.Load(), "closing the peeked body closes the original")
}

func TestA403BodyThatCannotBeReadIsNotARateLimit(t *testing.T) {
	t.Parallel()
	resp := &http.Response{Body: io.NopCloser(failingReader{err: errors.New("connection reset")})}
	assert.False(t, saysRateLimited(resp))
}

func TestPeekBodyLeavesAMissingOrEmptyBodyAlone(t *testing.T) {
	t.Parallel()
	for _, body := range []io.ReadCloser{nil, http.NoBody} {
		resp := &http.Response{Body: body}
		prefix, err := PeekBody(resp, 10)
		require.NoError(t, err)
		assert.Empty(t, prefix)
		assert.Equal(t, body, resp.Body)
	}
}
