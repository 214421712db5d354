package github

import (
	"context"
	"net/http"
	"time"

	gh "github.com/google/go-github/v93/github"
)

// skew widens the search window: since comes from our clock, created_at
// from GitHub's.
const skew = time.Minute

// FindByKey lists the repository's issues by the token's user, updated since
// since-skew, newest first, page by page, and stops at the first older than
// the window.
func (c *client) FindByKey(ctx context.Context, repo, key string, since time.Time) (Created, bool, error) {
	if c.err != nil {
		return Created{}, false, c.err
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return Created{}, false, err
	}
	login, err := c.user(ctx)
	if err != nil {
		return Created{}, false, err
	}
	from := since.Add(-skew)
	opts := &gh.IssueListByRepoOptions{
		Creator: login, Since: from, State: "all", Sort: "created", Direction: "desc",
		ListOptions: gh.ListOptions{PerPage: 100},
	}
	for {
		issues, resp, err := c.gh.Issues.ListByRepo(ctx, owner, name, opts)
		if err != nil {
			return Created{}, false, c.classify("list issues in "+repo, false, resp, err, nil)
		}
		for _, i := range issues {
			if i.GetCreatedAt().Before(from) {
				return Created{}, false, nil // sorted by creation: the rest is older
			}
			if !i.IsPullRequest() && hasMarker(i.GetBody(), key) {
				return Created{Number: i.GetNumber(), URL: i.GetHTMLURL()}, true, nil
			}
		}
		if resp.NextPage == 0 || resp.NextPage == opts.ListOptions.Page {
			return Created{}, false, nil
		}
		opts.ListOptions.Page = resp.NextPage
	}
}

// user returns the token's login, asked of GitHub once; "" for a GitHub App
// installation token, which acts as the app's bot and has no /user (403):
// its issues are then found by their marker alone, from any creator.
func (c *client) user(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.login != "" || c.anyCreator {
		return c.login, nil
	}
	u, resp, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusForbidden && c.appToken {
			c.anyCreator = true
			return "", nil
		}
		return "", c.classify("get the token's user", false, resp, err, nil)
	}
	c.login = u.GetLogin()
	return c.login, nil
}
