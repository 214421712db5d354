package e2e

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExpiredKeysArePrunedAndActAgain gives keys a one-second life: within
// it, a repeat replays; after it, a restart prunes the rows (the store does
// not grow without bound), and the same call acts anew.
func TestExpiredKeysArePrunedAndActAgain(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(map[string]string{"IDEMPOTENCY_WINDOW": "1s", "IDEMPOTENCY_KEY_TTL": "1s"}))
	derived := map[string]any{"channel": "Cprune", "text": "no key given"}
	explicit := createTicketTool.args("prune")

	first := structured(t, h.call("sendMessage", derived))
	again := structured(t, h.call("sendMessage", derived))
	assert.Equal(t, true, again["replayed"], "an identical call inside the window is the same call")
	assert.Equal(t, first["ts"], again["ts"])
	structured(t, h.call(createTicketTool.name, explicit))
	assert.Equal(t, 2, keyRows(t, h), "both keys are stored")

	time.Sleep(1100 * time.Millisecond)
	h.restart(nil)
	waitFor(t, 5*time.Second, "the start-up prune", func() bool { return keyRows(t, h) == 0 })

	later := structured(t, h.call("sendMessage", derived))
	assert.Equal(t, false, later["replayed"], "after the window the call is a new one")
	assert.NotEqual(t, first["ts"], later["ts"])
	assert.Len(t, h.fake.SlackMessages("Cprune"), 2)
	newTicket := structured(t, h.call(createTicketTool.name, explicit))
	assert.Equal(t, false, newTicket["replayed"], "an expired explicit key is forgotten")
	assert.Len(t, createTicketTool.effects(h.fake, "prune"), 2)
}

// keyRows counts the rows of the idempotency key table, read from the
// server's SQLite file as another process would.
func keyRows(t *testing.T, h *harness) int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(h.vars["DATA_DIR"], "state.db"))
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM idempotency_keys").Scan(&n))
	return n
}
