package fakesaas_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// setup starts a fake that stops with the test.
func setup(t *testing.T, opts ...fakesaas.Option) *fakesaas.Server {
	t.Helper()
	srv := fakesaas.New(opts...)
	t.Cleanup(srv.Close)
	return srv
}

type call struct {
	method string
	url    string
	header map[string]string
	body   string
}

// do sends c and returns the status, headers and body; the client has a
// short timeout so a hanging fault cannot stall the test.
func do(t *testing.T, c call) (int, http.Header, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, strings.NewReader(c.body))
	require.NoError(t, err)
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// mustDo is do for calls that must get an answer.
func mustDo(t *testing.T, c call) (int, http.Header, []byte) {
	t.Helper()
	status, h, b, err := do(t, c)
	require.NoError(t, err)
	return status, h, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

// slackForm is a chat.postMessage call the way slack-go sends it: a form
// with the token inside.
func slackForm(srv *fakesaas.Server, method string, v url.Values) call {
	return call{
		method: http.MethodPost, url: srv.SlackAPIURL() + method,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		body:   v.Encode(),
	}
}

func githubCall(srv *fakesaas.Server, method, path, token, body string) call {
	return call{
		method: method, url: srv.GitHubAPIURL() + strings.TrimPrefix(path, "/"),
		header: map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"},
		body:   body,
	}
}
