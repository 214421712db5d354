package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the store's driver, to hold its write lock and read it

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// The tests run as root in CI, where file modes stop nothing; each fault
// here is one root cannot get round: a path through a regular file, a
// device that is always full, a lock held by another process.

// TestServerRefusesToStartWithoutWritableState starts serve on paths it
// cannot create and expects it to exit with a message naming the problem,
// before it answers anything.
func TestServerRefusesToStartWithoutWritableState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars func(blocker string) map[string]string
		want string
	}{
		{
			name: "an audit log under a regular file is refused",
			vars: func(blocker string) map[string]string {
				return map[string]string{"AUDIT_LOG_PATH": filepath.Join(blocker, "audit.ndjson")}
			},
			want: "audit log",
		},
		{
			name: "a data directory under a regular file is refused",
			vars: func(blocker string) map[string]string {
				return map[string]string{"DATA_DIR": filepath.Join(blocker, "data")}
			},
			want: "data",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			blocker := filepath.Join(dir, "not-a-dir")
			require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o600))
			vars := map[string]string{
				"AUDIT_LOG_PATH": filepath.Join(dir, "audit.ndjson"),
				"DATA_DIR":       filepath.Join(dir, "data"),
			}
			for k, v := range tt.vars(blocker) {
				vars[k] = v
			}
			cmd := exec.Command(binary, "serve")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
			for k, v := range vars {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Stdin = strings.NewReader("") // it must not get as far as reading
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "serve exits with an error")
			assert.NotZero(t, exit.ExitCode())
			assert.Contains(t, stderr.String(), tt.want)
			assert.Contains(t, stderr.String(), "not a directory", "the message says why")
			assert.Empty(t, stdout.String(), "nothing on the protocol stream")
		})
	}
}

// TestFullAuditLogRefusesTheActionAndSaysWhy points the audit log at
// /dev/full, where every write fails with ENOSPC even for root: the server
// starts (opening needs no space), and each call is refused before its
// provider is called.
func TestFullAuditLogRefusesTheActionAndSaysWhy(t *testing.T) {
	t.Parallel()
	if f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0); err != nil {
		t.Skipf("no /dev/full here: %v", err)
	} else {
		_ = f.Close()
	}
	// AUDIT_SYNC=never: under "always" a device is refused at start, as it
	// cannot be synced (TestASyncedAuditLogMustBeARegularFile).
	h := start(t, fastEnv(map[string]string{"AUDIT_LOG_PATH": "/dev/full", "AUDIT_SYNC": "never"}))
	for _, tool := range effectTools {
		res := h.call(tool.name, tool.args("full"))
		require.True(t, res.IsError, tool.name)
		msg := text(res)
		assert.Contains(t, msg, "audit log cannot be written", tool.name)
		assert.Contains(t, msg, "no space left on device", "the error says why")
		assert.Empty(t, tool.effects(h.fake, "full"), tool.name)
	}
	assert.Empty(t, h.fake.Requests(), "no provider was called")
}

// TestLockedStoreRefusesTheActionThenTheKeyIsFree holds the store's write
// lock from another process (this test) for longer than the server waits
// for it: the claim cannot be written, so nothing is sent and the error
// says so. Once the lock is gone the same call acts once.
func TestLockedStoreRefusesTheActionThenTheKeyIsFree(t *testing.T) {
	t.Parallel()
	h := start(t, fastEnv(nil))
	// A busy timeout: the server writes its WAL ahead in zeros just after
	// start-up, under SQLite's write lock, for a few milliseconds.
	db, err := sql.Open("sqlite", filepath.Join(h.vars["DATA_DIR"], "state.db")+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err, "take the write lock")

	args := createTicketTool.args("locked")
	res := h.call(createTicketTool.name, args)
	require.True(t, res.IsError)
	assert.Contains(t, text(res), "idempotency store cannot be written, so nothing was sent")
	assert.Empty(t, h.fake.Requests(), "no provider was called")

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	out := settle(t, h.session, createTicketTool.name, args)
	assert.Equal(t, false, out["replayed"])
	assert.Len(t, createTicketTool.effects(h.fake, "locked"), 1)
	checkTrail(t, h.records(), "key-locked")
}

// TestHalfWrittenAuditLineIsRepairedAtStartUp leaves a torn last line in
// the audit log, as a crash mid-write would, and starts the server: the
// file is valid NDJSON again and says it was repaired.
func TestHalfWrittenAuditLineIsRepairedAtStartUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "logs", "audit.ndjson")
	require.NoError(t, os.MkdirAll(filepath.Dir(log), 0o750))
	whole := `{"ts":"2026-01-02T03:04:05Z","actor":"a","provider":"github","action":"create_issue","target":"acme/app","idempotencyKey":"k1","status":"started"}` + "\n"
	torn := `{"ts":"2026-01-02T03:04:06Z","actor":"a","provider":"github","act`
	require.NoError(t, os.WriteFile(log, []byte(whole+torn), 0o640))

	h := start(t, fastEnv(map[string]string{"AUDIT_LOG_PATH": log}))
	// A call after start-up appends after the repaired tail.
	structured(t, h.call("writeAudit", map[string]any{"provider": "ops", "action": "note", "target": "repair-check"}))

	raw, err := os.ReadFile(log)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(raw, []byte(whole)), "the whole lines before the tear are kept")
	assert.NotContains(t, string(raw), torn)
	var recs []audit.Record
	require.NoError(t, audit.Read(bytes.NewReader(raw), func(r audit.Record) error { recs = append(recs, r); return nil }),
		"the log is valid NDJSON again")
	var repair *audit.Record
	for i, r := range recs {
		if r.Action == "audit.repair" {
			repair = &recs[i]
		}
	}
	require.NotNil(t, repair, "a repair record says what happened")
	assert.EqualValues(t, len(torn), repair.Details["bytesRemoved"])
	assert.Equal(t, "repair-check", recs[len(recs)-1].Target)
}
