package chain

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tool's Check refuses what the schema cannot, after it and before
// anything else: the call is rejected as invalid arguments, audited
// started then rejected, never run, and no key is claimed (the same key
// then serves the corrected call).
func TestAToolsCheckRefusesAsInvalidBeforeAKeyIsClaimed(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.tool.Check = func(c *Call) error {
		if c.String("repo") == "acme/.." {
			return errors.New(`repo: neither the owner nor the name may be "." or ".."`)
		}
		return nil
	}
	_, err := b.call(ticket("repo", "acme/..", "idempotencyKey", "k1"))
	require.Error(t, err)
	assert.Equal(t, KindInvalid, KindOf(err))
	assert.Equal(t, `invalid arguments for createTicket: repo: neither the owner nor the name may be "." or ".."`, err.Error())
	assert.Zero(t, b.runs.Load())
	assert.Equal(t, []string{"started", "rejected"}, b.sink.statuses())

	res, err := b.call(ticket("idempotencyKey", "k1"))
	require.NoError(t, err, "the key was never claimed")
	assert.False(t, res.Replayed)
	assert.EqualValues(t, 1, b.runs.Load())
}
