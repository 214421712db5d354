package fakesaas

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GitHubIssue is an issue (or, with PullRequest, a pull request) the fake
// holds.
type GitHubIssue struct {
	Repo        string    `json:"repo"` // "owner/name"
	Number      int       `json:"number"`
	ID          int64     `json:"id"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	Labels      []string  `json:"labels"`
	Assignees   []string  `json:"assignees"`
	Creator     string    `json:"creator"` // login
	State       string    `json:"state"`   // "open" or "closed"
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	PullRequest bool      `json:"pull_request,omitempty"`
}

type githubState struct {
	byRepo map[string][]*GitHubIssue // by number
	nextID int64
}

func (st *githubState) init() {
	st.byRepo = map[string][]*GitHubIssue{}
	st.nextID = 1000001
}

func (i *GitHubIssue) clone() GitHubIssue {
	c := *i
	c.Labels = slices.Clone(i.Labels)
	c.Assignees = slices.Clone(i.Assignees)
	return c
}

// GitHubIssues returns copies of the issues and pull requests in repo
// ("owner/name"; every repository when empty), in creation order.
func (s *Server) GitHubIssues(repo string) []GitHubIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GitHubIssue
	for r, issues := range s.github.byRepo {
		if repo != "" && r != repo {
			continue
		}
		for _, i := range issues {
			out = append(out, i.clone())
		}
	}
	slices.SortFunc(out, func(a, b GitHubIssue) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// AddGitHubIssue seeds an issue or pull request, such as one created by
// someone else, and returns it with its number, id and defaults filled in:
// creator GitHubLogin, state "open", created now.
func (s *Server) AddGitHubIssue(i GitHubIssue) GitHubIssue {
	if i.Creator == "" {
		i.Creator = GitHubLogin
	}
	return s.githubStore(&i)
}

func (s *Server) githubStore(i *GitHubIssue) GitHubIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i.State == "" {
		i.State = "open"
	}
	if i.CreatedAt.IsZero() {
		i.CreatedAt = s.cfg.now().UTC().Truncate(time.Second)
	}
	if i.UpdatedAt.IsZero() {
		i.UpdatedAt = i.CreatedAt
	}
	i.ID = s.github.nextID
	s.github.nextID++
	i.Number = len(s.github.byRepo[i.Repo]) + 1
	s.github.byRepo[i.Repo] = append(s.github.byRepo[i.Repo], i)
	return i.clone()
}

func githubError(status int, msg string) reply {
	return jsonReply(status, map[string]any{
		"message": msg, "documentation_url": "https://docs.github.com/rest", "status": fmt.Sprint(status),
	})
}

// githubAuth returns the login of the request's token, or the 401 answer.
func (s *Server) githubAuth(r *http.Request) (string, *reply) {
	h := r.Header.Get("Authorization")
	if h == "" {
		rep := githubError(http.StatusUnauthorized, "Requires authentication")
		return "", &rep
	}
	token := strings.TrimPrefix(strings.TrimPrefix(h, "Bearer "), "token ")
	login, ok := s.cfg.githubTokens[token]
	if !ok {
		rep := githubError(http.StatusUnauthorized, "Bad credentials")
		return "", &rep
	}
	return login, nil
}

// githubRepo authenticates the request and checks its repository exists.
func (s *Server) githubRepo(r *http.Request) (login, repo string, fail *reply) {
	login, fail = s.githubAuth(r)
	if fail != nil {
		return "", "", fail
	}
	repo = r.PathValue("owner") + "/" + r.PathValue("repo")
	if s.cfg.githubRepos != nil && !s.cfg.githubRepos[repo] {
		rep := githubError(http.StatusNotFound, "Not Found")
		return "", "", &rep
	}
	return login, repo, nil
}

func (s *Server) githubCreateIssue(r *http.Request) reply {
	login, repo, fail := s.githubRepo(r)
	if fail != nil {
		return *fail
	}
	var req struct {
		Title     *string  `json:"title"`
		Body      string   `json:"body"`
		Labels    []string `json:"labels"`
		Assignees []string `json:"assignees"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return githubError(http.StatusBadRequest, "Problems parsing JSON")
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		return jsonReply(http.StatusUnprocessableEntity, map[string]any{
			"message":           "Validation Failed",
			"errors":            []map[string]string{{"resource": "Issue", "field": "title", "code": "missing_field"}},
			"documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
			"status":            "422",
		})
	}
	i := s.githubStore(&GitHubIssue{
		Repo: repo, Title: *req.Title, Body: req.Body, Labels: req.Labels, Assignees: req.Assignees, Creator: login,
	})
	rep := jsonReply(http.StatusCreated, githubIssueJSON(apiBase(r), i))
	rep.header.Set("Location", fmt.Sprintf("%s/repos/%s/issues/%d", apiBase(r), repo, i.Number))
	return rep
}

func (s *Server) githubUser(r *http.Request) reply {
	login, fail := s.githubAuth(r)
	if fail != nil {
		return *fail
	}
	if strings.Contains(r.Header.Get("Authorization"), "ghs_") {
		// A GitHub App installation token acts as the app's bot, which has
		// no /user.
		return githubError(http.StatusForbidden, "Resource not accessible by integration")
	}
	return jsonReply(http.StatusOK, githubUserJSON(apiBase(r), login))
}

// apiBase is the REST base URL the request came in on, without a trailing
// slash: including the WithGitHubPathPrefix prefix when it was used.
func apiBase(r *http.Request) string {
	p, _ := r.Context().Value(prefixKey{}).(string)
	return "http://" + r.Host + p
}

func userID(login string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(login))
	return int64(h.Sum32())
}

func githubUserJSON(base, login string) map[string]any {
	id := userID(login)
	return map[string]any{
		"login": login, "id": id, "node_id": fmt.Sprintf("U_kgDO%08d", id%1e8),
		"url": base + "/users/" + login, "html_url": "https://github.com/" + login,
		"type": "User", "site_admin": false,
	}
}

// githubIssueJSON is an issue as the REST API shows it.
func githubIssueJSON(base string, i GitHubIssue) map[string]any {
	url := fmt.Sprintf("%s/repos/%s/issues/%d", base, i.Repo, i.Number)
	htmlURL := fmt.Sprintf("https://github.com/%s/issues/%d", i.Repo, i.Number)
	labels := make([]map[string]any, 0, len(i.Labels))
	for n, l := range i.Labels {
		labels = append(labels, map[string]any{
			"id": 2000000 + n, "node_id": fmt.Sprintf("LA_kwDO%06d", n), "url": base + "/repos/" + i.Repo + "/labels/" + l,
			"name": l, "color": "ededed", "default": false, "description": nil,
		})
	}
	assignees := make([]map[string]any, 0, len(i.Assignees))
	for _, a := range i.Assignees {
		assignees = append(assignees, githubUserJSON(base, a))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var closedAt any
	if i.State == "closed" {
		closedAt = i.UpdatedAt.Format(time.RFC3339)
	}
	out := map[string]any{
		"id": i.ID, "node_id": fmt.Sprintf("I_kwDO%010d", i.ID), "number": i.Number,
		"url": url, "repository_url": base + "/repos/" + i.Repo, "html_url": htmlURL,
		"title": i.Title, "body": i.Body, "user": githubUserJSON(base, i.Creator),
		"labels": labels, "assignee": assignee, "assignees": assignees,
		"state": i.State, "locked": false, "comments": 0, "milestone": nil,
		"created_at": i.CreatedAt.Format(time.RFC3339), "updated_at": i.UpdatedAt.Format(time.RFC3339),
		"closed_at": closedAt, "author_association": "OWNER",
	}
	if i.PullRequest {
		out["pull_request"] = map[string]any{
			"url":      fmt.Sprintf("%s/repos/%s/pulls/%d", base, i.Repo, i.Number),
			"html_url": fmt.Sprintf("https://github.com/%s/pull/%d", i.Repo, i.Number),
		}
		out["html_url"] = fmt.Sprintf("https://github.com/%s/pull/%d", i.Repo, i.Number)
	}
	return out
}
