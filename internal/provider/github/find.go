package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"
)

// skew widens the search window: since comes from our clock, created_at
// from GitHub's, and a host clock ahead of GitHub's would otherwise ask for
// issues "since" a moment GitHub has not reached, and miss the first
// attempt's. Reaching back 15 minutes takes in no issue of an earlier life
// of the key: its marker names another claim (see hasMarker).
const skew = 15 * time.Minute

// Sender is who GitHub records as the creator of the issues a token opens,
// as far as saas-mcp knows it. FindByKeyFrom looks only at that creator's
// issues: in a public repository anyone can open an issue ending with our
// marker, and taking it for ours would suppress the call's own issue.
//
// The claim of a createTicket key records the first attempt's Sender (its
// Via, as chain.Tool.Via), so that a retry from a process with another
// token (two sessions sharing one DATA_DIR, one with a developer's token,
// one with a bot's) looks among the issues of the user the first attempt
// was sent as, not its own.
type Sender struct {
	// Login is the user of a personal, OAuth or user-to-server token.
	Login string
	// App: a GitHub App installation token, which acts as the app's bot
	// and has no /user. Its issues are found by their marker alone, from
	// any creator.
	App bool
	// Unknown: who the token is was not known when the first attempt
	// was claimed (see whose): a process's first createTicket, before
	// GitHub was asked, or after it failed to answer.
	Unknown bool
}

// How a Sender is written in the claim's via column. A login is letters,
// digits and hyphens (a bot's ends in "[bot]"), so none of the others can
// be mistaken for one.
const (
	viaUser    = "github:" // + the login
	viaApp     = "github-app"
	viaUnknown = "github?"
)

// Via is s as the claim records it; "" for the zero Sender.
func (s Sender) Via() string {
	switch {
	case s.App:
		return viaApp
	case s.Login != "":
		return viaUser + s.Login
	case s.Unknown:
		return viaUnknown
	}
	return ""
}

// SenderFromVia reads back what Via wrote. "" (a claim made by a release
// that did not record the sender) gives the zero Sender; a value this
// release does not know (written by a later one) gives Unknown, the
// careful reading: it opens no second issue whoever sent the first.
func SenderFromVia(via string) Sender {
	switch {
	case via == "":
		return Sender{}
	case via == viaApp:
		return Sender{App: true}
	case strings.HasPrefix(via, viaUser) && len(via) > len(viaUser):
		return Sender{Login: via[len(viaUser):]}
	}
	return Sender{Unknown: true}
}

// ErrFirstSenderUnknown says that an issue carrying a key's marker was
// opened by another user than this token's, and that who the first attempt
// under the key was sent as is not known (Sender.Unknown): the issue may be
// that attempt's, sent with another token, or someone else's copy of the
// marker, and no look with this token can tell.
var ErrFirstSenderUnknown = errors.New("github: an issue carrying this key's marker was opened by another GitHub user than this token's, " +
	"and saas-mcp did not yet know which user its token is when the first attempt was made, " +
	"so it cannot tell that issue from someone else's copy of the marker (a saas-mcp with the first attempt's token can)")

// Sender returns who the issues this client opens are created by, asking
// GitHub's /user once (see user).
func (c *client) Sender(ctx context.Context) (Sender, error) {
	if c.err != nil {
		return Sender{}, c.err
	}
	login, err := c.user(ctx)
	if err != nil {
		return Sender{}, err
	}
	if login == "" {
		return Sender{App: true}, nil
	}
	return Sender{Login: login}, nil
}

// KnownSender returns what Sender has learnt, sending nothing.
func (c *client) KnownSender() Sender {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.anyCreator:
		return Sender{App: true}
	case c.login != "":
		return Sender{Login: c.login}
	}
	return Sender{Unknown: true}
}

// FindByKey looks among the issues of this token's user: a claim that
// recorded no Sender.
func (c *client) FindByKey(ctx context.Context, repo, key string, since time.Time) (Created, bool, error) {
	return c.FindByKeyFrom(ctx, repo, key, since, Sender{})
}

// FindByKeyFrom lists the repository's issues by first's creator (see
// whose), updated since since-skew, newest first, page by page, and stops
// at the first created before the window. since is the claim's time, which
// the marker must name (or name no claim: see hasMarker).
func (c *client) FindByKeyFrom(ctx context.Context, repo, key string, since time.Time, first Sender) (Created, bool, error) {
	if c.err != nil {
		return Created{}, false, c.err
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return Created{}, false, err
	}
	w, err := c.whose(ctx, first)
	if err != nil {
		return Created{}, false, err
	}
	from := since.Add(-skew)
	opts := &gh.IssueListByRepoOptions{
		Creator: w.creator, Since: from, State: "all", Sort: "created", Direction: "desc",
		ListOptions: gh.ListOptions{PerPage: 100},
	}
	// Of several matches the oldest is taken: the effect of the call in
	// doubt comes before any issue that quotes its text (found in review:
	// listed newest first, a later quoting issue was taken).
	var mine, other *gh.Issue // the oldest match by a creator w trusts, and by one it does not
	done := func() (Created, bool, error) {
		if mine != nil {
			return Created{Number: mine.GetNumber(), URL: mine.GetHTMLURL()}, true, nil
		}
		return notFound(other)
	}
	for {
		issues, resp, err := c.gh.Issues.ListByRepo(ctx, owner, name, opts)
		if err != nil {
			return Created{}, false, c.classifyRepo("list issues in "+repo, false, resp, err, nil)
		}
		for _, i := range issues {
			if i.GetCreatedAt().Before(from) {
				return done() // sorted by creation: the rest is older
			}
			if i.IsPullRequest() || !hasMarker(i.GetBody(), key, since) {
				continue
			}
			if w.mine == "" || strings.EqualFold(i.GetUser().GetLogin(), w.mine) {
				mine = i
			} else {
				other = i
			}
		}
		if resp.NextPage == 0 || resp.NextPage == opts.ListOptions.Page {
			return done()
		}
		opts.ListOptions.Page = resp.NextPage
	}
}

// search is whose issues FindByKeyFrom lists (creator; "" for every creator)
// and takes (mine: only this login's; "" for every one listed).
type search struct{ creator, mine string }

// whose says where to look for the issue the first attempt, sent as first,
// may have opened:
//   - a user: that user's issues, whatever this process's token is;
//   - an App installation token: every creator's, as the app's bot login
//     cannot be learnt from its token;
//   - not recorded (a claim from an earlier release): this token's, as
//     before the sender was recorded;
//   - unknown (not yet learnt when claimed): every creator's, taking only
//     this token's user's; another creator's match gets
//     ErrFirstSenderUnknown from notFound. The first attempt was sent with
//     some token and, if it opened an issue, that issue is in the listing:
//     it is taken if the token was this one, refused if another, so no
//     second issue is opened and no one else's copy of the marker is taken
//     for ours. A token that is an App's takes any match, as it would for
//     its own issues.
func (c *client) whose(ctx context.Context, first Sender) (search, error) {
	switch {
	case first.Login != "":
		return search{creator: first.Login}, nil
	case first.App:
		return search{}, nil
	}
	me, err := c.Sender(ctx)
	if err != nil {
		return search{}, err
	}
	if first.Unknown && !me.App {
		return search{mine: me.Login}, nil
	}
	return search{creator: me.Login}, nil
}

// notFound ends a search that found no issue of ours: other, if not nil,
// is a match by a creator that could not be ruled out (see whose).
func notFound(other *gh.Issue) (Created, bool, error) {
	if other != nil {
		return Created{}, false, fmt.Errorf("%w: %s, opened by %s", ErrFirstSenderUnknown, other.GetHTMLURL(), other.GetUser().GetLogin())
	}
	return Created{}, false, nil
}

// user returns the token's login, asked of GitHub once; "" for a GitHub App
// installation token, which acts as the app's bot and has no /user (403).
//
// Concurrent callers share one request; each waits for it only as long as
// its own ctx allows, so a slow /user holds no caller longer than that
// caller's deadline (createTicket asks with a short one before it sends). A
// failed answer is not kept: a waiter still in time asks again.
func (c *client) user(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		if login := c.login; login != "" || c.anyCreator {
			c.mu.Unlock()
			return login, nil
		}
		if wait := c.asking; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", c.classify("get the token's user", false, nil, context.Cause(ctx), nil)
			}
		}
		done := make(chan struct{})
		c.asking = done
		c.mu.Unlock()

		login, anyCreator, err := c.askUser(ctx)
		c.mu.Lock()
		c.login, c.anyCreator, c.asking = login, anyCreator, nil
		c.mu.Unlock()
		close(done)
		return login, err
	}
}

// askUser sends GET /user.
func (c *client) askUser(ctx context.Context) (login string, anyCreator bool, err error) {
	u, resp, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusForbidden && c.appToken {
			return "", true, nil
		}
		return "", false, c.classify("get the token's user", false, resp, err, nil)
	}
	if u.GetLogin() == "" {
		return "", false, c.classify("get the token's user", false, resp, errors.New("GitHub named no login"), nil)
	}
	return u.GetLogin(), false, nil
}
