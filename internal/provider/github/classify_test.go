package github_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

func TestFailuresAreClassified(t *testing.T) {
	t.Parallel()
	type env struct {
		srv *fakesaas.Server
		cfg github.Config
		ctx context.Context
		in  github.Issue
	}
	tests := []struct {
		name        string
		arrange     func(t *testing.T, e *env)
		find        bool
		wantStatus  int
		wantCode    string
		wantText    string // in the error text
		wantInDoubt bool
	}{
		{name: "a bad token is 401, not in doubt",
			arrange:    func(t *testing.T, e *env) { e.cfg.Token = config.NewSecret("ghp_notthetoken") },
			wantStatus: 401, wantCode: "Bad credentials"},
		{name: "an unknown repository is 404, not in doubt",
			arrange:    func(t *testing.T, e *env) { e.in.Repo = "acme/nope" },
			wantStatus: 404, wantCode: "Not Found"},
		{name: "a validation failure names the field",
			arrange:    func(t *testing.T, e *env) { e.in.Title = "" },
			wantStatus: 422, wantCode: "Validation Failed", wantText: "Issue.title missing_field"},
		{name: "a rate-limit 403 was rejected unprocessed",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/repos/", Status: 403, Header: http.Header{
					"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1712345678"},
				}})
			},
			wantStatus: 403, wantCode: "API rate limit exceeded for user ID 1.", wantText: "resets at"},
		{name: "a 500 to a create is in doubt",
			arrange:    func(t *testing.T, e *env) { e.srv.Inject(fakesaas.Fault{Path: "/repos/", Status: 500}) },
			wantStatus: 500, wantCode: "Internal Server Error", wantInDoubt: true},
		{name: "a 201 whose body cannot be read is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/repos/", Status: 201, Body: "{"})
			},
			wantStatus: 201, wantInDoubt: true},
		{name: "a connection closed after the issue was created is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/repos/", Mode: fakesaas.CommitThenClose})
			},
			wantInDoubt: true},
		{name: "a timeout while GitHub holds the request is in doubt",
			arrange: func(t *testing.T, e *env) {
				e.srv.Inject(fakesaas.Fault{Path: "/repos/", Mode: fakesaas.Hang})
				var cancel context.CancelFunc
				e.ctx, cancel = context.WithTimeout(e.ctx, 100*time.Millisecond)
				t.Cleanup(cancel)
			},
			wantInDoubt: true},
		{name: "a refused connection is not in doubt",
			arrange: func(t *testing.T, e *env) { e.cfg.BaseURL = "http://" + freeAddr(t) + "/" }},
		{name: "a context cancelled before sending is not in doubt",
			arrange: func(t *testing.T, e *env) {
				ctx, cancel := context.WithCancel(e.ctx)
				cancel()
				e.ctx = ctx
			}},
		{name: "a failed list is never in doubt",
			arrange:    func(t *testing.T, e *env) { e.srv.Inject(fakesaas.Fault{Path: "/repos/", Status: 500}) },
			find:       true,
			wantStatus: 500, wantCode: "Internal Server Error"},
		{name: "a failed user lookup is never in doubt",
			arrange:  func(t *testing.T, e *env) { e.srv.Inject(fakesaas.Fault{Path: "/user", Mode: fakesaas.Drop}) },
			find:     true,
			wantText: "get the token's user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fakesaas.New(fakesaas.WithGitHubRepos(repo))
			t.Cleanup(srv.Close)
			e := &env{srv: srv, ctx: t.Context(),
				cfg: github.Config{BaseURL: srv.GitHubAPIURL(), Token: config.NewSecret(fakesaas.GitHubToken),
					HTTPClient: &http.Client{Timeout: 5 * time.Second}},
				in: github.Issue{Repo: repo, Title: "t", Key: "k"},
			}
			tt.arrange(t, e)
			c := github.New(e.cfg)
			var err error
			if tt.find {
				_, _, err = c.FindByKey(e.ctx, e.in.Repo, "k", time.Now())
			} else {
				_, err = c.CreateIssue(e.ctx, e.in)
			}
			t.Logf("error: %v", err)
			var pe *provider.Error
			require.True(t, errors.As(err, &pe), "want *provider.Error, got %T %v", err, err)
			assert.Equal(t, "github", pe.Provider)
			assert.Equal(t, tt.wantStatus, pe.Status)
			assert.Equal(t, tt.wantCode, pe.Code)
			assert.Contains(t, err.Error(), tt.wantText)
			assert.Equal(t, tt.wantInDoubt, pe.InDoubt)
			assert.NotContains(t, err.Error(), e.cfg.Token.Reveal())
		})
	}
}

func TestErrorTextPassesTheCallersRedactor(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := github.New(github.Config{
		BaseURL: "http://" + addr + "/", Token: config.NewSecret(fakesaas.GitHubToken),
		Redactor: redact.New(addr),
	})
	_, err := c.CreateIssue(t.Context(), github.Issue{Repo: repo, Title: "t"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), addr)
	assert.Contains(t, err.Error(), redact.Mask)
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "the cause is still there for errors.As")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
