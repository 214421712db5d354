package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The attempt check (WithAttemptCheck) runs just before each attempt of a
// request that changes something, and a failing check stops the call
// there, with nothing sent; reads are never checked.
func TestTheAttemptCheckStopsAWriteBeforeItLeavesAndNeverAReadOne(t *testing.T) {
	t.Parallel()
	taken := errors.New("taken over")
	tests := []struct {
		name      string
		method    string
		check     error
		wantSent  int64
		wantCheck int64
		wantErr   bool
	}{
		{"a POST whose check fails", http.MethodPost, taken, 0, 1, true},
		{"a POST whose check passes", http.MethodPost, nil, 1, 1, false},
		{"a GET is never checked", http.MethodGet, taken, 1, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sent, checked atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				sent.Add(1)
				w.WriteHeader(http.StatusCreated)
			}))
			t.Cleanup(srv.Close)
			ctx := WithAttemptCheck(context.Background(), func(context.Context) error {
				checked.Add(1)
				return tc.check
			})
			req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL, strings.NewReader("{}"))
			require.NoError(t, err)
			resp, err := New(Options{Base: srv.Client().Transport}).RoundTrip(req)
			if tc.wantErr {
				require.ErrorIs(t, err, taken)
			} else {
				require.NoError(t, err)
				_ = resp.Body.Close()
			}
			assert.Equal(t, tc.wantSent, sent.Load(), "requests that reached the server")
			assert.Equal(t, tc.wantCheck, checked.Load(), "checks run")
		})
	}
}

// A write the attempt check stops never leaves, so it gives its pacing
// slot back: the next write (GitHub's one a second) goes at once rather
// than wait for a request that was never sent.
func TestAWriteTheAttemptCheckStopsGivesItsPacingSlotBack(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, step{status: 201})
	clock := newFakeClock()
	o := testOptions(clock, srv.srv.Client().Transport)
	o.Limits = []Limit{{Every: time.Minute}}
	tr := New(o)
	taken := errors.New("taken over")
	ctx := WithAttemptCheck(context.Background(), func(context.Context) error { return taken })
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.srv.URL, strings.NewReader("{}"))
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, taken)
	assert.Empty(t, srv.Requests())

	send(t, tr, srv.srv.URL, http.MethodPost, "")
	assert.Empty(t, clock.Waits(), "the stopped write's slot was given back")
	assert.Len(t, srv.Requests(), 1)
}
