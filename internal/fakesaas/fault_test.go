package fakesaas_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

const issueBody = `{"title":"Bug"}`

func TestFaultsChangeTheAnswerAndTellWhetherTheEffectHappened(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      fakesaas.Fault
		wantStatus int // 0: no answer
		wantIssues int
	}{
		{"respond answers without the effect",
			fakesaas.Fault{Method: "POST", Path: "/repos/", Status: 503}, 503, 0},
		{"commit then fail applies the effect and answers 500 by default",
			fakesaas.Fault{Path: "/repos/acme", Mode: fakesaas.CommitThenFail}, 500, 1},
		{"commit then fail answers the status asked for",
			fakesaas.Fault{Path: "/repos/", Mode: fakesaas.CommitThenFail, Status: 502}, 502, 1},
		{"commit then close applies the effect and drops the connection",
			fakesaas.Fault{Path: "/repos/", Mode: fakesaas.CommitThenClose}, 0, 1},
		{"drop closes the connection without the effect",
			fakesaas.Fault{Path: "/repos/", Mode: fakesaas.Drop}, 0, 0},
		{"a fault for another method does not apply",
			fakesaas.Fault{Method: "GET", Path: "/repos/", Status: 503}, 201, 1},
		{"a fault for another path does not apply",
			fakesaas.Fault{Path: "/v1/", Status: 503}, 201, 1},
		{"a status-less respond only delays",
			fakesaas.Fault{Path: "/repos/", Delay: 10 * time.Millisecond}, 201, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t)
			srv.Inject(tt.fault)
			status, _, _, err := do(t, githubCall(srv, "POST", "/repos/acme/w/issues", fakesaas.GitHubToken, issueBody))
			if tt.wantStatus == 0 {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.wantStatus, status)
			}
			assert.Len(t, srv.GitHubIssues("acme/w"), tt.wantIssues)
		})
	}
}

func TestFaultsAreUsedInOrderAndRunOut(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	srv.Inject(fakesaas.Fault{Path: "/repos/", Times: 2, Status: 429, Header: http.Header{"Retry-After": {"1"}}})
	srv.Inject(fakesaas.Fault{Path: "/repos/", Times: 1, Status: 403, Header: http.Header{
		"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1712345678"},
	}})
	var statuses []int
	for range 4 {
		status, h, body := mustDo(t, githubCall(srv, "POST", "/repos/acme/w/issues", fakesaas.GitHubToken, issueBody))
		statuses = append(statuses, status)
		switch status {
		case 429:
			assert.Equal(t, "1", h.Get("Retry-After"))
		case 403:
			assert.Equal(t, "0", h.Get("X-Ratelimit-Remaining"))
			assert.Contains(t, decode(t, body)["message"], "rate limit")
		}
	}
	assert.Equal(t, []int{429, 429, 403, 201}, statuses)
	assert.Len(t, srv.GitHubIssues(""), 1)

	srv.Inject(fakesaas.Fault{Path: "/user", Status: 500})
	for range 3 {
		status, _, _ := mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))
		assert.Equal(t, 500, status, "a fault without Times stays")
	}
	srv.ClearFaults()
	status, _, _ := mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))
	assert.Equal(t, 200, status)
}

func TestHangingFaultsEndWhenTheClientGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       fakesaas.Mode
		wantIssues int
	}{
		{"hang holds the request without the effect", fakesaas.Hang, 0},
		{"commit then hang applies the effect first", fakesaas.CommitThenHang, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := setup(t)
			srv.Inject(fakesaas.Fault{Path: "/repos/", Mode: tt.mode})
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, "POST", srv.GitHubAPIURL()+"repos/acme/w/issues", strings.NewReader(issueBody))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+fakesaas.GitHubToken)
			_, err = http.DefaultClient.Do(req)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Len(t, srv.GitHubIssues(""), tt.wantIssues)
		})
	}
}

func TestADelayEndsWhenTheClientGivesUp(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	srv.Inject(fakesaas.Fault{Path: "/user", Status: 200, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.GitHubAPIURL()+"user", nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	srv.Close() // returns only once the handler has stopped waiting
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestRequestsAreRecordedWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	mustDo(t, githubCall(srv, "GET", "/user?token=secret-in-query&x=1", fakesaas.GitHubToken, ""))
	srv.Inject(fakesaas.Fault{Path: "/user", Status: 500, Times: 1})
	mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "GET", reqs[0].Method)
	assert.Equal(t, "/user", reqs[0].Path)
	assert.Equal(t, "x=1", reqs[0].Query)
	assert.Empty(t, reqs[0].Header.Get("Authorization"))
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	assert.Empty(t, reqs[0].Fault)
	assert.Equal(t, "respond", reqs[1].Fault)
	assert.Equal(t, 2, srv.Count("GET", "/user"))
	assert.Equal(t, 0, srv.Count("POST", "/"))
}

func TestStartServesOnTheGivenAddress(t *testing.T) {
	t.Parallel()
	srv, err := fakesaas.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	status, _, _ := mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))
	assert.Equal(t, 200, status)

	_, err = fakesaas.Start(strings.TrimPrefix(srv.URL, "http://"))
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "a taken address is an error, got %v", err)
}

func TestAWebhookFaultAnswersWithSlacksReasonForItsStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		wantBody string
	}{
		{http.StatusBadRequest, "invalid_payload"},
		{http.StatusForbidden, "action_prohibited"},
		{http.StatusNotFound, "no_service"},
		{http.StatusGone, "channel_is_archived"},
		{http.StatusInternalServerError, "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.wantBody, func(t *testing.T) {
			t.Parallel()
			srv := setup(t)
			srv.Inject(fakesaas.Fault{Path: "/services/", Status: tt.status})
			status, _, body := mustDo(t, call{method: "POST", url: srv.SlackWebhookURL(), body: `{"text":"hi"}`})
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.wantBody, string(body))
			assert.Empty(t, srv.SlackMessages("C0WEBHOOK"))
		})
	}
}
