package github

import (
	"errors"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

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
		pe.Err = fmt.Errorf("the limit resets at %s", rateErr.Rate.Reset.UTC().Format(time.RFC3339))
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

// details renders a validation error's list: "Issue.title missing_field".
func details(e *gh.ErrorResponse) string {
	var parts []string
	for _, d := range e.Errors {
		s := strings.Trim(d.Resource+"."+d.Field, ".")
		if d.Code != "" {
			s += " " + d.Code
		}
		if d.Message != "" {
			s += ": " + d.Message
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
