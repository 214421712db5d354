package slack

import (
	"errors"
	"fmt"
	"net/http"

	slackapi "github.com/slack-go/slack"

	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
)

// maybeApplied are the Web API error codes Slack documents as "it's possible
// some aspect of the operation succeeded before the error was raised".
var maybeApplied = map[string]bool{"internal_error": true, "fatal_error": true}

// classify turns a slack-go error into a *provider.Error. mutating says the
// call changes something at Slack, so a lost answer leaves it in doubt; at
// may be nil for a call that does not.
func (c *client) classify(op string, mutating bool, err error, at *attempt.Attempt) error {
	pe := &provider.Error{Provider: "slack", Op: op}
	var apiErr slackapi.SlackErrorResponse
	var rateErr *slackapi.RateLimitedError
	var statusErr slackapi.StatusCodeError
	switch {
	case errors.As(err, &apiErr):
		// Slack answered 200 with ok:false; the code says it all.
		pe.Status, pe.Code = http.StatusOK, apiErr.Err
		pe.InDoubt = mutating && maybeApplied[apiErr.Err]
	case errors.As(err, &rateErr):
		pe.Status, pe.Code = http.StatusTooManyRequests, "ratelimited"
		pe.Err = fmt.Errorf("retry after %s", rateErr.RetryAfter)
	case errors.As(err, &statusErr):
		pe.Status = statusErr.Code
		pe.InDoubt = mutating && statusErr.Code >= 500
	case at != nil && at.Status() == http.StatusTooManyRequests:
		// A 429 slack-go could not read (a Retry-After given as an HTTP
		// date, which it parses as seconds): refused unprocessed all the
		// same, and the retrying transport already honoured the date.
		pe.Status, pe.Code = http.StatusTooManyRequests, "ratelimited"
	default:
		// No answer, or one we could not read: the text may hold the
		// webhook URL, which is a secret.
		pe.Err = c.scrub.Error(err)
		pe.InDoubt = mutating && at.MayHaveSent(err)
	}
	return pe
}
