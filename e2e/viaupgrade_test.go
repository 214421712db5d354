package e2e

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/fakesaas"
)

// TestAWebhookKeyInDoubtFromBeforeTheUpgradeIsNotPostedAgainWithABotToken:
// (found in review) the README says a key whose first attempt posted through the incoming
// webhook stays refused once a bot token is added. A key left in doubt by
// the release before 0002_claim_via.sql (webhook-only, as the README
// allowed) has via = ” after the migration; upgrading and adding a bot
// token in the same restart must not post that message a second time.
func TestAWebhookKeyInDoubtFromBeforeTheUpgradeIsNotPostedAgainWithABotToken(t *testing.T) {
	t.Parallel()
	h := start(t, func(f *fakesaas.Server) map[string]string {
		return map[string]string{"SLACK_WEBHOOK_URL": f.SlackWebhookURL()}
	})
	// The webhook posts, then answers 500: the key is in doubt.
	h.fake.Inject(fakesaas.Fault{Method: "POST", Path: "/services/", Times: 1, Mode: fakesaas.CommitThenFail, Status: http.StatusInternalServerError})
	args := map[string]any{"channel": "C0GENERAL", "text": "deploy", "idempotencyKey": "legacy-1"}
	res := h.call("sendMessage", args)
	require.True(t, res.IsError, text(res))
	require.Len(t, h.fake.SlackMessages(""), 1, "the webhook posted")

	// Make the state.db what the previous release left: schema version 1,
	// no via column (the row was claimed before via was recorded).
	h.stop()
	db, err := sql.Open("sqlite", filepath.Join(h.vars["DATA_DIR"], "state.db"))
	require.NoError(t, err)
	_, err = db.Exec(`ALTER TABLE idempotency_keys DROP COLUMN via`)
	require.NoError(t, err)
	// Later migrations go too: they come after 0002 in that release's future.
	_, err = db.Exec(`ALTER TABLE payments DROP COLUMN recorded_by`)
	require.NoError(t, err)
	_, err = db.Exec(`ALTER TABLE payment_objects DROP COLUMN last_event_type`)
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM schema_migrations WHERE version >= 2`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// Upgrade (the migration runs at start) and add a bot token.
	withToken := map[string]string{"SLACK_BOT_TOKEN": fakesaas.SlackToken}
	h.restart(withToken)
	res = h.call("sendMessage", args)
	assert.True(t, res.IsError, "the retry must stay refused: %s", text(res))
	assert.Len(t, h.fake.SlackMessages(""), 1, "one message per key: the retry posted the webhook's message again through the Web API")
}
