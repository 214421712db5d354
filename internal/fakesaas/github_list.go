package fakesaas

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// githubListIssues is GET /repos/{owner}/{repo}/issues with the filters
// reconciliation uses (creator, since, state, labels), sorting, and paging
// through a Link header, as GitHub does. Pull requests are listed too.
func (s *Server) githubListIssues(r *http.Request) reply {
	_, repo, fail := s.githubRepo(r)
	if fail != nil {
		return *fail
	}
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return githubError(http.StatusUnprocessableEntity, "Validation Failed: since is not a timestamp")
		}
		since = t
	}
	perPage, err := strconv.Atoi(cmp.Or(q.Get("per_page"), "30"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(cmp.Or(q.Get("page"), "1"))
	if err != nil || page <= 0 {
		page = 1
	}

	keep := issueFilter(q, since)
	s.mu.Lock()
	var all []GitHubIssue
	for _, i := range s.github.byRepo[repo] {
		if keep(i) {
			all = append(all, i.clone())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, issueOrder(q.Get("sort"), q.Get("direction")))

	base := apiBase(r)
	start := min((page-1)*perPage, len(all))
	end := min(start+perPage, len(all))
	out := make([]map[string]any, 0, end-start)
	for _, i := range all[start:end] {
		out = append(out, githubIssueJSON(base, i))
	}
	rep := jsonReply(http.StatusOK, out)
	last := max(1, (len(all)+perPage-1)/perPage)
	if link := linkHeader(base+r.URL.Path, q, page, last); link != "" {
		rep.header.Set("Link", link)
	}
	return rep
}

func issueFilter(q url.Values, since time.Time) func(*GitHubIssue) bool {
	state := cmp.Or(q.Get("state"), "open")
	creator := q.Get("creator")
	var labels []string
	if v := q.Get("labels"); v != "" {
		labels = strings.Split(v, ",")
	}
	return func(i *GitHubIssue) bool {
		switch {
		case state != "all" && i.State != state:
			return false
		case creator != "" && !strings.EqualFold(i.Creator, creator):
			return false
		case !since.IsZero() && i.UpdatedAt.Before(since):
			return false
		}
		for _, l := range labels {
			if !slices.Contains(i.Labels, l) {
				return false
			}
		}
		return true
	}
}

func issueOrder(sortBy, direction string) func(a, b GitHubIssue) int {
	return func(a, b GitHubIssue) int {
		c := 0
		if sortBy == "updated" {
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		} else {
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		c = cmp.Or(c, cmp.Compare(a.ID, b.ID))
		if direction != "asc" {
			c = -c
		}
		return c
	}
}

// linkHeader builds GitHub's pagination header (next, last, first, prev).
func linkHeader(path string, q url.Values, page, last int) string {
	link := func(p int, rel string) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("page", strconv.Itoa(p))
		return fmt.Sprintf(`<%s?%s>; rel="%s"`, path, q2.Encode(), rel)
	}
	var parts []string
	if page < last {
		parts = append(parts, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		parts = append(parts, link(1, "first"), link(page-1, "prev"))
	}
	return strings.Join(parts, ", ")
}
