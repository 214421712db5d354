package slack

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
)

// maybeApplied are the Web API error codes Slack documents as "it's possible
// some aspect of the operation succeeded before the error was raised".
var maybeApplied = map[string]bool{"internal_error": true, "fatal_error": true}

// refusedToken are Slack's codes for a bot token it will not take.
var refusedToken = map[string]bool{
	"invalid_auth": true, "not_authed": true, "token_revoked": true, "token_expired": true,
	"account_inactive": true, "not_allowed_token_type": true,
}

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
		if refusedToken[apiErr.Err] {
			// Say which setting to fix: Slack's code names none.
			pe.Err = errors.New("SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE) was refused by Slack")
		}
	case errors.As(err, &rateErr):
		pe.Status, pe.Code = http.StatusTooManyRequests, "ratelimited"
		pe.Err = fmt.Errorf("retry after %s", rateErr.RetryAfter)
	case errors.As(err, &statusErr):
		pe.Status, pe.Code = statusErr.Code, c.reason(at)
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

// reasonShape is the shape of the reasons Slack gives in the body of a
// failed incoming-webhook post (api.slack.com/messaging/webhooks:
// "channel_is_archived", "no_service", "invalid_token"): one word of
// lowercase letters, digits and underscores. Nothing of any other body is
// shown: an answer from something other than Slack (a proxy's HTML page)
// may carry anything, the webhook URL, which is a secret, included.
var reasonShape = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// reason is the reason Slack gave in the body of a failed answer to the
// call of at, or "" when at kept none or the body is not a reason word. A
// word that is a secret, or any part of the webhook URL (its token, which
// the redactors know only at 16 bytes and more), is never one.
func (c *client) reason(at *attempt.Attempt) string {
	if at == nil {
		return ""
	}
	r := strings.TrimSpace(string(at.ErrorBody()))
	if !reasonShape.MatchString(r) || c.scrub.String(r) != r ||
		strings.Contains(strings.ToLower(c.webhookURL), r) {
		return ""
	}
	return r
}
