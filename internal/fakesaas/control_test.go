package fakesaas_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

func TestControlEndpointsDriveTheFakeFromAnotherProcess(t *testing.T) {
	t.Parallel()
	srv := setup(t, fakesaas.WithControl())
	control := func(method, path, body string) int {
		status, _, _ := mustDo(t, call{method: method, url: srv.URL + fakesaas.ControlPrefix + path, body: body})
		return status
	}

	require.Equal(t, http.StatusNoContent, control("POST", "faults",
		`{"path":"/repos/","times":1,"mode":"commit_then_fail","status":502}`))
	status, _, _ := mustDo(t, githubCall(srv, "POST", "/repos/acme/w/issues", fakesaas.GitHubToken, issueBody))
	assert.Equal(t, 502, status)
	assert.Len(t, srv.GitHubIssues(""), 1)

	assert.Equal(t, http.StatusBadRequest, control("POST", "faults", `{"mode":"explode"}`))
	require.Equal(t, http.StatusNoContent, control("POST", "faults", `{"path":"/user","status":500}`))
	require.Equal(t, http.StatusNoContent, control("DELETE", "faults", ""))
	status, _, _ = mustDo(t, githubCall(srv, "GET", "/user", fakesaas.GitHubToken, ""))
	assert.Equal(t, 200, status)

	require.Equal(t, http.StatusNoContent, control("POST", "stripe/events", `{"id":"evt_ctl","livemode":false}`))
	assert.Equal(t, http.StatusBadRequest, control("POST", "stripe/events", `{}`))

	_, _, body := mustDo(t, call{method: "GET", url: srv.URL + fakesaas.ControlPrefix + "effects"})
	effects := decode(t, body)
	assert.Len(t, effects["github_issues"], 1)
	assert.Len(t, effects["requests"], 2, "control calls are not recorded")
}

func TestControlEndpointsAreOffByDefault(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	status, _, _ := mustDo(t, call{method: "POST", url: srv.URL + fakesaas.ControlPrefix + "faults", body: `{"status":500}`})
	assert.Equal(t, http.StatusNotFound, status)
}
