package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

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
