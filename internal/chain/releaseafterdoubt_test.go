package chain

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider"
)

// A key in doubt is retried; the retry reconciles (nothing listed yet: the
// provider's list lags), and its own POST then fails for sure (connection
// refused, a 429 past HTTP_MAX_CALL_WAIT, a 401 while a token is rotated).
// send() then Releases the key: it deletes the row, the only trace that an
// earlier attempt may have acted, and with it the claim time that attempt's
// marker names. The third attempt finds no row, claims afresh (a new claim
// time) and sends without looking: by then the first attempt's issue is
// listed, and a reconciliation would have found it. Two issues for one key
// (found in review). The key now stays in doubt.
func TestADefiniteFailureOfARetryKeepsTheEarlierAttemptInDoubt(t *testing.T) {
	t.Parallel()
	b := setup(t, "sandbox", map[string]string{"GITHUB_TOKEN": "ghp_x"})
	b.idem.Settle = time.Millisecond // RECONCILE_SETTLE: two reads before sending
	b.foundOnRead = 3                // the first attempt's issue shows in the list from the third read on
	args := ticket("idempotencyKey", "deploy-9")

	b.runErr = &provider.Error{Provider: "github", Op: "create issue", InDoubt: true} // timed out: maybe created
	_, err := b.call(args)
	require.Error(t, err)
	require.Equal(t, KindInDoubt, KindOf(err))

	b.runErr = &provider.Error{Provider: "github", Op: "create issue", Status: 401} // certainly not sent
	_, err = b.call(args)
	require.Error(t, err)
	require.EqualValues(t, 2, b.reads.Load(), "the retry looked twice and found nothing yet")

	b.runErr = nil
	res, err := b.call(args)
	require.NoError(t, err)
	assert.True(t, res.Replayed, "the third attempt must look for the first attempt's issue before sending")
	assert.EqualValues(t, 2, b.runs.Load(), "two POSTs, the first of which may have opened the issue, and no third")
}
