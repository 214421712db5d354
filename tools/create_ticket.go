package tools

import (
	"context"
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
		Provider:    "github",
		Action:      "create_issue",
		Target:      arg("repo"),
		Credentials: []string{config.GitHubToken},
		Run: func(ctx context.Context, c *chain.Call) (any, error) {
			if d.GitHub == nil {
				return nil, notConfigured("GitHub")
			}
			created, err := d.GitHub.CreateIssue(ctx, github.Issue{
				Repo:      c.String("repo"),
				Title:     c.String("title"),
				Body:      c.String("body"),
				Labels:    stringList(c.Args, "labels"),
				Assignees: stringList(c.Args, "assignees"),
				Key:       c.Key,
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
			created, found, err := d.GitHub.FindByKey(ctx, c.String("repo"), c.Key, since)
			if err != nil || !found {
				return nil, found, err
			}
			return createdTicket(c, created), true, nil
		},
	}
	return define("createTicket",
		"Open a GitHub issue in owner/name. Safe to retry: reuse idempotencyKey and it never opens a second issue.",
		hints{title: "Create GitHub issue", idempotent: true, world: true}, t,
		// An empty body, label list or assignee list opens the very issue
		// leaving them out does: Run sends "" and empty lists either way.
		"body", "labels", "assignees")
}

func createdTicket(c *chain.Call, created github.Created) CreatedTicket {
	return CreatedTicket{Provider: "github", Number: created.Number, URL: created.URL, IdempotencyKey: displayKey(c)}
}
