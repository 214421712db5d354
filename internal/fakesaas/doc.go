// Package fakesaas is an in-process fake of the Slack, GitHub and Stripe
// endpoints saas-mcp calls. Unit tests point a provider client at it, the
// end-to-end suite points the real binary at it through SLACK_API_URL,
// GITHUB_API_URL and STRIPE_API_URL, and a local demo can serve it with Start.
//
// # Endpoints
//
//   - Slack: POST /api/chat.postMessage (to a conversation ID, a channel
//     name with or without '#', or a user ID for a DM), GET|POST
//     /api/conversations.history and /api/conversations.replies (IDs only, as
//     Slack), /api/conversations.list, /api/conversations.open, POST
//     /services/T000/B000/XXXX (incoming webhook). The default workspace has
//     #general (C0GENERAL), #random, #deploys, a private #incidents and an
//     archived #old-news; any other C or G id exists too unless
//     WithSlackChannels names the ones that do.
//   - GitHub: POST and GET /repos/{owner}/{repo}/issues, GET /user; also
//     under a prefix such as /api/v3 (GitHub Enterprise Server's layout) with
//     WithGitHubPathPrefix.
//   - Stripe: GET /v1/events/{id}.
//
// Responses have the providers' shapes, including their error bodies, so the
// official SDKs decode them as they would the real thing.
//
// # Faults
//
// Inject queues a Fault for requests matching a method and path prefix. A
// fault can answer instead of the endpoint (429 with Retry-After, say), or let
// the endpoint apply its effect first and then fail, drop the connection or
// hang: the cases where a client cannot know whether its call took effect.
//
// # Effects
//
// Every request is recorded (without Authorization), and so is every effect:
// SlackMessages, GitHubIssues and Requests return copies safe to inspect while
// the server keeps running.
//
// # Example
//
//	srv := fakesaas.New()
//	t.Cleanup(srv.Close)
//	srv.Inject(fakesaas.Fault{Method: "POST", Path: "/repos/", Times: 1, Mode: fakesaas.CommitThenClose})
//	// ... create an issue through the client under test ...
//	require.Len(t, srv.GitHubIssues("acme/widgets"), 1)
package fakesaas
