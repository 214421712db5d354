package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Agents built on function-calling APIs in strict mode make every field
// required and send null for the optional ones they do not use. Such a
// call used to be refused ("threadTs: got null, want string"). An optional
// argument sent as null is now taken as absent everywhere: the call acts,
// it is the same call as one that leaves the field out (a replay, under
// the derived key and under an explicit one), and neither the audit log
// nor the provider sees the null. A required field sent as null is still
// refused, naming it.
func TestAnOptionalArgumentSentAsNullIsTakenAsAbsent(t *testing.T) {
	t.Parallel()
	h := start(t, withAllCredentials)

	first := structured(t, h.call("createTicket", map[string]any{
		"repo": "acme/app", "title": "Null fields", "body": nil, "labels": nil, "assignees": nil, "idempotencyKey": nil,
	}))
	assert.Equal(t, false, first["replayed"])
	second := structured(t, h.call("createTicket", map[string]any{"repo": "acme/app", "title": "Null fields"}))
	assert.Equal(t, true, second["replayed"], "the same call as the one with nulls")
	assert.Equal(t, first["number"], second["number"])
	assert.Equal(t, first["idempotencyKey"], second["idempotencyKey"], "the derived key ignores the nulls")
	require.Len(t, h.fake.GitHubIssues("acme/app"), 1)

	msg := structured(t, h.call("sendMessage", map[string]any{"channel": "C0NULL", "text": "hi", "threadTs": nil, "idempotencyKey": "null-1"}))
	assert.Equal(t, false, msg["replayed"])
	again := structured(t, h.call("sendMessage", map[string]any{"channel": "C0NULL", "text": "hi", "idempotencyKey": "null-1"}))
	assert.Equal(t, true, again["replayed"], "an explicit key: same arguments, not a conflict")
	assert.Len(t, h.fake.SlackMessages("C0NULL"), 1)

	wrote := structured(t, h.call("writeAudit", map[string]any{
		"provider": "pagerduty", "action": "ack", "target": "INC-1", "status": nil, "details": nil, "idempotencyKey": nil,
	}))
	assert.NotContains(t, wrote, "details")

	res := h.call("sendMessage", map[string]any{"channel": nil, "text": "hi"})
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "channel:")

	for _, r := range h.records() {
		for k, v := range r.Details {
			assert.NotNil(t, v, "record %s/%s detail %s", r.Tool, r.Status, k)
		}
	}
}
