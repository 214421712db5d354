package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// Migration 3 keeps each object's newest event type in its row; an object
// recorded before it must be ordered by the type of the event it already
// holds, or a session's unpaid completion delivered after its money in the
// same second would be applied over it.
func TestAnObjectRecordedBeforeTheUpgradeIsOrderedByTheTypeOfItsNewestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	created := time.Unix(1_700_000_000, 0).UTC()
	ev := func(id, typ string) payments.Event {
		return payments.Event{ID: id, Type: typ, ObjectID: "cs_1", Currency: "eur", Created: created}
	}

	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	out, err := db.Payments().Record(ctx, ev("evt_a", "checkout.session.async_payment_succeeded"))
	require.NoError(t, err)
	require.Equal(t, payments.Outcome{Recorded: true}, out)
	// Back to the schema before migration 3, with the object's row as it
	// was: the later migrations undone too, or none would be applied again.
	<-db.walDone // the WAL written ahead holds the connection in a transaction meanwhile
	for _, q := range []string{
		`ALTER TABLE payments DROP COLUMN recorded_by`,
		`ALTER TABLE payment_objects DROP COLUMN last_event_type`,
		`DELETE FROM schema_migrations WHERE version >= 3`,
	} {
		_, err = db.w.conn.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())

	db, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer func() { assert.NoError(t, db.Close()) }()
	out, err = db.Payments().Record(ctx, ev("evt_z", "checkout.session.completed"))
	require.NoError(t, err)
	assert.Equal(t, payments.Outcome{Recorded: true, Stale: true}, out)
}

// Migration 4 keeps who booked each event. An event booked before it has no
// booker: the upgrade keeps the row, and no repeat can claim it as its own
// earlier attempt, while events booked after it are told apart by booker.
func TestAnEventBookedBeforeTheUpgradeHasNoBookerAndStaysADuplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	ev := func(id, by string) payments.Event {
		return payments.Event{ID: id, Type: "payment_intent.succeeded", ObjectID: "pi_" + id, Currency: "eur",
			Created: time.Unix(1_700_000_000, 0).UTC(), By: by}
	}

	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	out, err := db.Payments().Record(ctx, ev("evt_before", ""))
	require.NoError(t, err)
	require.Equal(t, payments.Outcome{Recorded: true}, out)
	// Back to the schema before migration 4.
	<-db.walDone // the WAL written ahead holds the connection in a transaction meanwhile
	for _, q := range []string{
		`ALTER TABLE payments DROP COLUMN recorded_by`,
		`DELETE FROM schema_migrations WHERE version >= 4`,
	} {
		_, err = db.w.conn.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())

	db, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer func() { assert.NoError(t, db.Close()) }()
	got, ok, err := db.Payments().Get(ctx, "evt_before")
	require.NoError(t, err)
	require.True(t, ok, "the event booked before the upgrade is kept")
	assert.Equal(t, "", got.By)
	out, err = db.Payments().Record(ctx, ev("evt_before", "call k"))
	require.NoError(t, err)
	assert.Equal(t, payments.Outcome{Duplicate: true}, out, "a booker cannot claim an event booked before the upgrade")
	out, err = db.Payments().Record(ctx, ev("evt_after", "call k"))
	require.NoError(t, err)
	assert.Equal(t, payments.Outcome{Recorded: true}, out)
	out, err = db.Payments().Record(ctx, ev("evt_after", "call k"))
	require.NoError(t, err)
	assert.Equal(t, payments.Outcome{Recorded: true, Earlier: true}, out)
}
