package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
)

// CreatedTicket is createTicket's structured result.
type CreatedTicket struct {
	Provider       string `json:"provider"`
	Number         int    `json:"number"`
	URL            string `json:"url"`
	Replayed       bool   `json:"replayed"`
	IdempotencyKey string `json:"idempotencyKey"`
}

// CreateTicket opens a GitHub issue.
func CreateTicket(d Deps) (Definition, error) {
	t := &chain.Tool{
		Describe:    describe("number", "url"),
		Provider:    "github",
		Action:      "create_issue",
		Target:      arg("repo"),
		Credentials: []string{config.GitHubToken},
		// The schema lets a repo of dots through (Go's regexp has no
		// lookahead); refused with the invalid arguments, before a key is
		// claimed or anything sent (found in review: refused in Run, a
		// retry of a key in doubt kept it in doubt and said an earlier
		// attempt may have acted, which none with such a repo can have).
		Check: func(c *chain.Call) error {
			if github.CheckRepo(c.String("repo")) != nil {
				return errors.New(`repo: neither the owner nor the name may be "." or ".."`)
			}
			return nil
		},
		Run: func(ctx context.Context, c *chain.Call) (any, error) {
			if d.GitHub == nil {
				return nil, notConfigured("GitHub")
			}
			learnSender(ctx, d.GitHub)
			created, err := d.GitHub.CreateIssue(ctx, github.Issue{
				Repo:      c.String("repo"),
				Title:     c.String("title"),
				Body:      c.String("body"),
				Labels:    stringList(c.Args, "labels"),
				Assignees: stringList(c.Args, "assignees"),
				Key:       c.Key,
				Claimed:   c.ClaimedAt,
			})
			if err != nil {
				return nil, err
			}
			return createdTicket(c, created), nil
		},
		Reconcile: func(ctx context.Context, c *chain.Call, since time.Time) (any, bool, error) {
			if d.GitHub == nil {
				return nil, false, notConfigured("GitHub")
			}
			created, found, err := findTicket(ctx, d.GitHub, c, since)
			if errors.Is(err, github.ErrFirstSenderUnknown) {
				return nil, false, chain.CannotReconcile(err)
			}
			if err != nil {
				return nil, false, err
			}
			if found {
				return createdTicket(c, created), true, nil
			}
			return nil, false, sendableAs(ctx, d.GitHub, c)
		},
		// The claim records which GitHub user the issue is sent as, so that
		// a retry from a process with another token (sessions sharing one
		// DATA_DIR) looks among that user's issues, not its own. Only what
		// the client already knows: nothing may leave the process before
		// the claim is written (see learnSender).
		Via: func(*chain.Call) string {
			if gh, ok := d.GitHub.(github.SenderClient); ok {
				return gh.KnownSender().Via()
			}
			return ""
		},
	}
	return define("createTicket",
		"Open a GitHub issue in owner/name. Safe to retry: reuse idempotencyKey and it never opens a second issue.",
		hints{title: "Create GitHub issue", idempotent: true, world: true}, t,
		// An empty body, label list or assignee list opens the very issue
		// leaving them out does: Run sends "" and empty lists either way.
		"body", "labels", "assignees")
}

// senderWait bounds the GET /user of learnSender.
const senderWait = 5 * time.Second

// learnSender has the client learn, once per process, which GitHub user its
// token is (GET /user), for the claims of the calls after this one: this
// call's claim, written before anything was sent, recorded what was known
// then, so a process's first createTicket records an unknown sender.
//
// It is asked after the claim and before the send. It delays the send by
// at most senderWait (less if the call is cancelled), its failure is
// ignored (the issue is sent all the same; the next call asks again), and
// it is not one of the call's provider attempts (its context is its own,
// without the call's observer). Sending without the answer is safe:
// a claim with an unknown sender is reconciled by listing the marker's
// issues from every creator, taking the retrying token's user's and
// refusing another user's as undecidable (github.ErrFirstSenderUnknown), so
// a retry with any token opens no second issue and takes no copy of the
// marker for ours. Recording no sender instead would have a retry with
// another token look among its own user's issues only, miss the first
// one, and open a second.
func learnSender(ctx context.Context, client github.Client) {
	gh, ok := client.(github.SenderClient)
	if !ok {
		return
	}
	lctx, cancel := context.WithTimeout(context.Background(), senderWait)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	_, _ = gh.Sender(lctx)
}

// sendableAs says whether this process may send the issue a retry found no
// trace of: the claim keeps the sender of its first attempt, which every
// later retry searches, so an attempt sent as another GitHub user (a
// server with another token on the same DATA_DIR) could never be found by
// them, and a third retry would open a second issue. Such a retry sends
// nothing (the key stays in doubt for a server with the first attempt's
// token, or until it expires); one whose first sender is unknown or an App
// searches every creator's issues and may send.
func sendableAs(ctx context.Context, client github.Client, c *chain.Call) error {
	first := github.SenderFromVia(c.FirstVia)
	gh, ok := client.(github.SenderClient)
	if first.Login == "" || !ok {
		return nil
	}
	me, err := gh.Sender(ctx)
	if err != nil {
		return fmt.Errorf("learn which GitHub user this token is, before sending again: %w", err)
	}
	if !me.App && strings.EqualFold(me.Login, first.Login) {
		return nil
	}
	who := "a GitHub App"
	if !me.App {
		who = "GitHub user " + me.Login
	}
	return fmt.Errorf("the first attempt under this key was sent as GitHub user %s and this server's token is %s's: "+
		"an issue sent from here could not be found by a later retry, so nothing was sent; retry from a saas-mcp with %s's token",
		first.Login, who, first.Login)
}

// findTicket looks for the issue an earlier attempt of c may have opened,
// among the issues of the user the claim says it was sent as. since is the
// claim's time, which that issue's marker names (see github.Marker).
func findTicket(ctx context.Context, client github.Client, c *chain.Call, since time.Time) (github.Created, bool, error) {
	if gh, ok := client.(github.SenderClient); ok {
		return gh.FindByKeyFrom(ctx, c.String("repo"), c.Key, since, github.SenderFromVia(c.FirstVia))
	}
	return client.FindByKey(ctx, c.String("repo"), c.Key, since)
}

// createdTicket is the result of a call that opened created, or found it
// opened by an earlier attempt. The call's audit record names the issue
// either way, so the log alone ties the key to its effect.
func createdTicket(c *chain.Call, created github.Created) CreatedTicket {
	c.SetDetail("number", created.Number)
	c.SetDetail("url", created.URL)
	return CreatedTicket{Provider: "github", Number: created.Number, URL: created.URL, IdempotencyKey: displayKey(c)}
}
