package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createTicket refuses a repo of dots (acme/.., acme/.): the schema lets it
// through (Go's regexp has no lookahead), go-github refused ".." only when
// building the request, and "acme/." went to POST /repos/acme/issues. It
// was then refused in Run, after the key was claimed, and a retry of a key
// in doubt with such a repo kept the key in doubt, telling the agent an
// earlier attempt "may have taken effect", which none with that repo can
// have (found in review). It is refused with the invalid arguments now,
// before any key is claimed or anything sent (GET /user included): the
// corrected call may use the same key.
func TestARepoOfDotsIsRefusedAsInvalidBeforeItsKeyIsClaimed(t *testing.T) {
	t.Parallel()
	const want = `invalid arguments for createTicket: repo: neither the owner nor the name may be "." or ".."`
	h := start(t, withAllCredentials)
	for _, repo := range []string{"acme/..", "acme/."} {
		res := h.call("createTicket", map[string]any{"repo": repo, "title": "t", "idempotencyKey": "key-dots"})
		require.True(t, res.IsError, "%s: %s", repo, text(res))
		assert.Equal(t, want, text(res), repo)
	}
	assert.Empty(t, h.fake.Requests(), "nothing reaches GitHub")
	assert.Equal(t, []string{"started", "rejected", "started", "rejected"}, h.statusesOf("createTicket"))

	out := structured(t, h.call("createTicket", map[string]any{"repo": "acme/widgets", "title": "t", "idempotencyKey": "key-dots"}))
	assert.Equal(t, false, out["replayed"], "the key was never claimed by the refused calls")
	assert.Len(t, h.fake.GitHubIssues("acme/widgets"), 1)
}
