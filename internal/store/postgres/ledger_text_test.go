package postgres

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

// TestAnEventWithANulInAFieldIsRecordedAsSQLiteRecordsIt (found in
// review): a signed event whose JSON strings hold \u0000 (an email, say)
// was recorded by SQLite and refused by PostgreSQL's text ("invalid byte
// sequence"), so a worker on PostgreSQL would retry it into the dead
// letter. ParseEvent, which both the tool and the worker use, makes the
// fields text first.
func TestAnEventWithANulInAFieldIsRecordedAsSQLiteRecordsIt(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	e, err := stripe.ParseEvent([]byte(`{"id":"evt_nul","object":"event","type":"checkout.session.completed","created":1712345678,
		"data":{"object":{"id":"cs_nul","object":"checkout.session","customer":"cus_1","payment_status":"paid",
		"amount_total":1000,"currency":"usd","customer_details":{"email":"a\u0000b@example.com"}}}}`))
	require.NoError(t, err)
	assert.Equal(t, "a\uFFFDb@example.com", e.Email)
	res, err := db.Payments().Record(context.Background(), e)
	require.NoError(t, err, "postgres refuses what SQLite records")
	assert.True(t, res.Recorded)
}
