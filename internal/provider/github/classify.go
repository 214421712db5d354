package github

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/saas-mcp/saas-mcp/internal/httpx"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
)

// classify turns a go-github error into a *provider.Error. mutating says the
// call changes something at GitHub, so a lost or unreadable answer leaves it
// in doubt; at may be nil for a call that does not.
func (c *client) classify(op string, mutating bool, resp *gh.Response, err error, at *attempt.Attempt) error {
	pe := &provider.Error{Provider: "github", Op: op}
	if resp != nil && resp.Response != nil {
		pe.Status = resp.StatusCode
	}
	var rateErr *gh.RateLimitError
	var abuseErr *gh.AbuseRateLimitError
	var apiErr *gh.ErrorResponse
	switch {
	case errors.As(err, &rateErr):
		pe.Code = rateErr.Message
		// go-github makes any 403 or 429 with x-ratelimit-remaining 0 a
		// RateLimitError, and the request that spends the window's last
		// unit carries remaining 0 whatever its outcome: a permission
		// error then would send the agent to wait for a reset that fixes
		// nothing (found in review). As the transport reads the body, only
		// GitHub's message, or its absence, says it is a rate limit.
		if httpx.SaysRateLimited(rateErr.Message) {
			pe.Err = fmt.Errorf("the limit resets at %s", rateErr.Rate.Reset.UTC().Format(time.RFC3339))
		}
	case errors.As(err, &abuseErr):
		pe.Code = abuseErr.Message
		if abuseErr.RetryAfter != nil {
			pe.Err = fmt.Errorf("retry after %s", *abuseErr.RetryAfter)
		}
	case errors.As(err, &apiErr):
		pe.Code = apiErr.Message
		if d := details(apiErr); d != "" {
			pe.Err = errors.New(c.scrub.String(d))
		}
	default:
		pe.Err = c.scrub.Error(err)
	}
	if pe.Status == http.StatusUnauthorized {
		// Say which setting to fix: GitHub's "Bad credentials" names none.
		hint := errors.New("GITHUB_TOKEN (or GITHUB_TOKEN_FILE) was refused by GitHub: invalid, expired or revoked")
		if pe.Err != nil {
			hint = fmt.Errorf("%w: %w", hint, pe.Err)
		}
		pe.Err = hint
	}
	switch {
	case !mutating:
	case pe.Status >= 500:
		pe.InDoubt = true
	case pe.Status >= 200 && pe.Status < 300:
		// Created, but the answer could not be read.
		pe.InDoubt = true
	case pe.Status == 0:
		pe.InDoubt = at.MayHaveSent(err)
	}
	return pe
}

// repoNotVisible is what a 404 from a call on a repository means: GitHub
// answers 404 both for a repository that does not exist and for one the
// token cannot see (a private one, a fine-grained token not granted it),
// and "Not Found" names neither (found in review).
const repoNotVisible = "repository not found, or not visible to this token (check the name and GITHUB_TOKEN's access to it)"

// classifyRepo is classify for a call on a repository (creating or listing
// its issues): a 404 also says what to check (repoNotVisible).
func (c *client) classifyRepo(op string, mutating bool, resp *gh.Response, err error, at *attempt.Attempt) error {
	cerr := c.classify(op, mutating, resp, err, at)
	var pe *provider.Error
	if errors.As(cerr, &pe) && pe.Status == http.StatusNotFound {
		if pe.Err != nil {
			pe.Err = fmt.Errorf("%s: %w", repoNotVisible, pe.Err)
		} else {
			pe.Err = errors.New(repoNotVisible)
		}
	}
	return cerr
}

// details renders a validation error's list: "Issue.title missing_field".
// An error GitHub gave as a plain string has only a message, rendered
// without the empty "resource.field: " before it (found in review).
func details(e *gh.ErrorResponse) string {
	var parts []string
	for _, d := range e.Errors {
		s := strings.Trim(d.Resource+"."+d.Field, ".")
		if d.Code != "" {
			s = strings.TrimSpace(s + " " + d.Code)
		}
		if d.Message != "" {
			if s != "" {
				s += ": "
			}
			s += d.Message
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
