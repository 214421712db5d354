package chain

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// TestAReplayKeepsTheStoredNumbersExact (found in review): a replay must
// return the stored result's numbers as stored, only with replayed set; it
// decoded them into float64, so an integer past 2^53 that the first result
// (and the audit log) carried exactly came back rounded.
func TestAReplayKeepsTheStoredNumbersExact(t *testing.T) {
	t.Parallel()
	got, err := withReplayed(json.RawMessage(`{"details":{"n":9007199254740993,"f":1e1},"replayed":false}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"details":{"n":9007199254740993,"f":1e1},"replayed":true}`, string(got))
	assert.Contains(t, string(got), "9007199254740993")
}

// TestAMissingCredentialErrorNamesEveryVariable (found in review): each
// credential can come from NAME or NAME_FILE; the error named NAME_FILE
// only for the first of a tool's credentials, leaving out
// SLACK_WEBHOOK_URL_FILE.
func TestAMissingCredentialErrorNamesEveryVariable(t *testing.T) {
	t.Parallel()
	tool := &Tool{Name: "sendMessage", Credentials: []string{"SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL"}}
	h := Wrap(Final, Secrets(config.Secrets{}))
	_, err := h(context.Background(), NewCall(tool, map[string]any{}, "a", "sandbox", "id"))
	require.Error(t, err)
	assert.Equal(t, KindCredential, KindOf(err))
	assert.Contains(t, err.Error(), "sendMessage needs SLACK_BOT_TOKEN, SLACK_BOT_TOKEN_FILE, SLACK_WEBHOOK_URL or SLACK_WEBHOOK_URL_FILE to be set")
}
