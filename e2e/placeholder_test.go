package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that passes `${GITHUB_TOKEN:-}` as text, not expanded, gets a
// tool error naming the rule and the variable, and nothing is sent (found
// in a new-user walkthrough: the text went to GitHub as the token).
func TestAnUnexpandedPlaceholderCredentialIsRefusedNamingTheVariable(t *testing.T) {
	t.Parallel()
	s := startRaw(t, map[string]string{"GITHUB_TOKEN": "${GITHUB_TOKEN:-}"})
	s.send(callLine("p1", "createTicket", map[string]any{"repo": "acme/app", "title": "placeholder"}, nil))
	m := s.response("p1", 10*time.Second)
	require.True(t, isToolError(m), "%v", m)
	text := fmt.Sprint(m["result"])
	assert.Contains(t, text, "placeholder rule")
	assert.Contains(t, text, "GITHUB_TOKEN")
	assert.Zero(t, s.fake.Count("POST", "/repos/"), "nothing sent")
}
