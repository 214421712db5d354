// Package github creates GitHub issues for the createTicket tool and finds
// an issue created earlier by its idempotency key.
//
// CreateIssue ends the issue body with a hidden marker holding the key and
// the time of its claim (Marker); after an answer was lost, FindByKeyFrom
// lists the recent issues in the repository of the user the first attempt
// was sent as (Sender) and looks for that marker.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// DefaultBaseURL is GitHub's REST API.
const DefaultBaseURL = "https://api.github.com/"

// Issue is an issue to create. Repo is "owner/name"; Key is the idempotency
// key and Claimed the time of its claim, written into the body as a Marker
// (none when Key is empty).
type Issue struct {
	Repo      string
	Title     string
	Body      string
	Labels    []string
	Assignees []string
	Key       string
	Claimed   time.Time
}

// Created is a created issue; URL is its html_url.
type Created struct {
	Number int
	URL    string
}

// Client creates issues and finds them again.
type Client interface {
	// CreateIssue creates in. A failure is a *provider.Error.
	CreateIssue(ctx context.Context, in Issue) (Created, error)
	// FindByKey looks for an issue (not a pull request) in repo, opened by
	// the token's user at or after since (less 15 minutes for clock skew),
	// whose body carries Marker(key, since): FindByKeyFrom with the zero
	// Sender. since is the key's claim time (chain.Call.ClaimedAt), which
	// the marker names: an issue of an earlier life of the key (it expired
	// and was claimed again) names another and is not this call's. A marker
	// that names no claim (written by an earlier release) matches on the
	// key alone.
	FindByKey(ctx context.Context, repo, key string, since time.Time) (Created, bool, error)
}

// SenderClient is a Client that knows which GitHub user its token is, and
// looks for an issue among the issues of the user an earlier attempt was
// sent as. New returns one; Client stays the two calls test doubles
// implement, and a Client that is not a SenderClient records no Sender.
type SenderClient interface {
	Client
	// Sender returns who the issues CreateIssue opens are created by,
	// asking GitHub once (GET /user) and keeping the answer.
	Sender(ctx context.Context) (Sender, error)
	// KnownSender returns Sender's kept answer without asking GitHub:
	// Sender{Unknown: true} until Sender has had one.
	KnownSender() Sender
	// FindByKeyFrom is FindByKey among the issues of first, the Sender the
	// first attempt under key was sent as, whatever this client's token is
	// (see Sender for the zero value and the others). An error wrapping
	// ErrFirstSenderUnknown says no look with this token can tell whether
	// a match is the first attempt's.
	FindByKeyFrom(ctx context.Context, repo, key string, since time.Time, first Sender) (Created, bool, error)
}

// Config configures a Client.
type Config struct {
	// BaseURL is the REST API base, DefaultBaseURL when empty.
	BaseURL string
	Token   config.Secret
	// HTTPClient carries every request (the retrying transport in
	// production); a plain client when nil. It is copied, not changed.
	HTTPClient *http.Client
	// Redactor, if set, also scrubs error text; the client always removes
	// its own token.
	Redactor *redact.Redactor
}

type client struct {
	gh    *gh.Client
	err   error // a configuration error, returned by every call
	scrub attempt.Scrubber

	// appToken: the token is a GitHub App installation token (ghs_).
	appToken bool

	mu         sync.Mutex
	login      string        // the token's user, once known
	anyCreator bool          // an app token: issues are matched by marker alone
	asking     chan struct{} // closed when the /user request in flight ends
}

var _ SenderClient = (*client)(nil)

// New returns a SenderClient for cfg. It sends nothing; a configuration error
// (no token, a base URL that does not parse) fails each call.
func New(cfg Config) SenderClient {
	c := &client{scrub: attempt.Scrubber{redact.New(cfg.Token.Reveal()), cfg.Redactor},
		appToken: strings.HasPrefix(cfg.Token.Reveal(), "ghs_")}
	if !cfg.Token.IsSet() {
		c.err = errors.New("github: no token is configured")
		return c
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	g, err := gh.NewClient(
		gh.WithHTTPClient(hc), // go-github copies it before adding the token
		gh.WithAuthToken(cfg.Token.Reveal()),
		gh.WithURLs(&base, &base), // adds the trailing slash go-github needs
		// Pacing and waiting on rate limits is the transport's job; the
		// SDK's own check would fail requests without sending them.
		gh.WithDisableRateLimitCheck(),
	)
	if err != nil {
		c.err = fmt.Errorf("github: %w", c.scrub.Error(err))
		return c
	}
	c.gh = g
	return c
}

// A marker is two HTML comments, invisible in the rendered issue: the
// claim's, claimPrefix + Unix seconds + commentEnd, then the key's,
// markerPrefix + key + commentEnd, which ends the body.
const (
	markerPrefix = "<!-- saas-mcp:key="
	claimPrefix  = "<!-- saas-mcp:claim="
	commentEnd   = " -->"
)

// Marker is the hidden text that ends the body of an issue created with key
// under the claim made at claimed, as whole Unix seconds (SQLite keeps
// nanoseconds, PostgreSQL microseconds, both floor to the same second; two
// lives of a key are at least IDEMPOTENCY_WINDOW or IDEMPOTENCY_KEY_TTL
// apart, at least a second). The key is query-escaped, so no key can end the
// comment early or span lines.
//
// The key's comment comes last and reads as it did before claims were
// marked, so a release that knows only the key still finds the issue
// (after a downgrade). A zero claimed writes the key's comment alone.
func Marker(key string, claimed time.Time) string {
	m := markerPrefix + url.QueryEscape(key) + commentEnd
	if claimed.IsZero() {
		return m
	}
	return claimPrefix + strconv.FormatInt(claimed.Unix(), 10) + commentEnd + m
}

// hasMarker reports whether body carries the marker of key's life claimed
// at claimed: the key's comment right after the same claim's, anywhere in
// the body, or, at the end, the key's comment after none (a marker written
// by a release before claims were marked matches on the key alone, so a
// call in doubt across the upgrade is still found).
//
// The whole marker names the key and the claim's second, which no other
// call's marker does (another key, or another life of this one), so it
// counts wherever it is: a human or a bot who appends a note to the issue
// leaves it mid-body, and a retry must still find the issue rather than
// open a second one (found in review: only the end counted), unless the
// body ends with another key's marker (then it quotes this one). Whose
// issues count is FindByKeyFrom's to decide, as before, and of several
// matches it takes the oldest. A key's comment alone
// names no claim, so it is still read only where Marker writes it, at the
// end, as before.
func hasMarker(body, key string, claimed time.Time) bool {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if !claimed.IsZero() && strings.Contains(body, Marker(key, claimed)) {
		// Unless the body ends with another key's marker: that issue is
		// another call's effect, quoting this one's text (a follow-up
		// ticket that copies the first's source; found in review).
		return !endsWithOtherKey(strings.TrimRight(body, " \t\n"), key, claimed)
	}
	body = strings.TrimRight(body, " \t\n")
	rest, ok := strings.CutSuffix(body, Marker(key, time.Time{}))
	if !ok {
		return false
	}
	named, ok := markedClaim(rest)
	return !ok || named == claimed.Unix()
}

// endsWithOtherKey reports whether body ends with the marker of another
// call than key's life claimed at claimed: another key's comment, or this
// key's after another claim's (another life of the key, whose issue quotes
// this one's; found in review).
func endsWithOtherKey(body, key string, claimed time.Time) bool {
	if !strings.HasSuffix(body, commentEnd) {
		return false
	}
	i := strings.LastIndex(body, markerPrefix)
	if i < 0 {
		return false
	}
	last := body[i:]
	if strings.Contains(last[len(markerPrefix):len(last)-len(commentEnd)], " ") {
		return false // not a key comment Marker wrote
	}
	if last != Marker(key, time.Time{}) {
		return true
	}
	named, ok := markedClaim(body[:i])
	return ok && named != claimed.Unix()
}

// markedClaim reads the claim's comment that ends rest (the body before the
// key's comment), in Unix seconds; ok is false when rest does not end with
// one. Marker writes it right before the key's comment, with nothing
// between: the caller's text is kept apart by a blank line.
func markedClaim(rest string) (unix int64, ok bool) {
	head, ok := strings.CutSuffix(rest, commentEnd)
	if !ok {
		return 0, false
	}
	i := strings.LastIndex(head, claimPrefix)
	if i < 0 {
		return 0, false
	}
	u, err := strconv.ParseUint(head[i+len(claimPrefix):], 10, 63) // digits only: no sign, no space
	return int64(u), err == nil
}

// CreateIssue creates the issue, its body ending with Marker(in.Key, in.Claimed).
func (c *client) CreateIssue(ctx context.Context, in Issue) (Created, error) {
	if c.err != nil {
		return Created{}, c.err
	}
	owner, name, err := splitRepo(in.Repo)
	if err != nil {
		return Created{}, err
	}
	op := "create issue in " + in.Repo
	body := in.Body
	if in.Key != "" {
		if body != "" {
			body += "\n\n"
		}
		body += Marker(in.Key, in.Claimed)
	}
	ctx, at := attempt.Track(ctx)
	// The request Issues.Create sends, through the SDK's NewRequest and Do
	// (auth, error and rate-limit parsing), but the answer is decoded into
	// the two fields we keep: decoding GitHub's whole issue (user, labels,
	// reactions, ...) into a *gh.Issue cost about a fifth of a call's CPU.
	req, err := c.gh.NewRequest(ctx, http.MethodPost, fmt.Sprintf("repos/%v/%v/issues", owner, name), gh.CreateIssueRequest{
		Title: in.Title, Body: &body, Labels: in.Labels, Assignees: in.Assignees,
	})
	if err != nil {
		// NewRequest fails before any connection is asked for (a path
		// go-github refuses, a body it cannot encode): nothing was sent,
		// so the failure is certain, not in doubt (found in review: it
		// was counted as possibly sent).
		return Created{}, c.classify(op, false, nil, err, nil)
	}
	var created struct {
		Number  int    `json:"number"`
		HTMLURL string `json:"html_url"`
	}
	resp, err := c.gh.Do(req, &created)
	if err != nil {
		return Created{}, c.classifyRepo(op, true, resp, err, at)
	}
	if created.Number <= 0 {
		// A 2xx whose body names no issue ({}, an empty or cut answer, a
		// proxy's own body): GitHub may have created one we cannot name,
		// so the call is in doubt and a retry finds it by its marker
		// (found in review: it was a success with issue 0).
		return Created{}, c.classify(op, true, resp, errors.New("GitHub's answer named no issue"), at)
	}
	return Created{Number: created.Number, URL: created.HTMLURL}, nil
}

// CheckRepo reports whether repo names a repository as owner/name, with
// neither part "." or "..": the schema's pattern lets a name of dots
// through (Go's regexp has no lookahead to refuse it), and such a path is
// not a repository's. go-github refuses ".." only when it builds the
// request, and "acme/." would resolve to /repos/acme/issues (found in
// review). The error names the repo argument.
func CheckRepo(repo string) error {
	_, _, err := splitRepo(repo)
	return err
}

func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("github: repo %q is not of the form owner/name", repo)
	}
	if isDots(owner) || isDots(name) {
		return "", "", fmt.Errorf("github: repo %q names no repository: neither its owner nor its name may be \".\" or \"..\"", repo)
	}
	return owner, name, nil
}

// isDots reports whether a path segment is "." or "..", which a URL path
// resolves away instead of naming.
func isDots(s string) bool { return s == "." || s == ".." }
