package tools

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// Two serve processes (each its own store handle, audit writer and owner)
// on one DATA_DIR and one audit log get writeAudit with the same key at
// once: the record is written once per key, and each call has its started
// and one terminal record.
func TestWriteAuditSameKeyFromTwoProcessesWritesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.ndjson")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	type proc struct {
		h   chain.Handler
		def Definition
	}
	var procs []proc
	for i := range 2 {
		db, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{Synchronous: "NORMAL"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		w, err := audit.Open(logPath, audit.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = w.Close() })
		def, err := WriteAudit(Deps{Audit: w, Now: time.Now})
		require.NoError(t, err)
		idem := &chain.Idempotency{Store: db.Keys(), Policy: idempotency.Policy{Window: time.Hour, KeyTTL: time.Hour, Lease: time.Minute},
			Owner: "owner-" + strconv.Itoa(i), Alive: func(string) bool { return true }, Now: time.Now, Audit: w, Log: log}
		h := chain.Wrap(chain.Final, chain.Audit(w, time.Now, log), idem.Middleware())
		procs = append(procs, proc{h: h, def: def})
	}
	const keys = 30
	var wg sync.WaitGroup
	for k := range keys {
		for i, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for try := 0; try < 50; try++ {
					c := chain.NewCall(p.def.Chain, map[string]any{"provider": "pagerduty", "action": "ack", "target": "P1",
						"idempotencyKey": "key-" + strconv.Itoa(k)}, "claude", "sandbox", "c"+strconv.Itoa(k)+"-"+strconv.Itoa(i)+"-"+strconv.Itoa(try))
					_, err := p.h(ctx, c)
					if err == nil {
						return
					}
					if chain.KindOf(err) != chain.KindConflict {
						t.Errorf("key %d: %v", k, err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	written := map[string]int{}
	started := map[string]int{}
	terminal := map[string]int{}
	require.NoError(t, audit.Read(bytes.NewReader(b), func(r audit.Record) error {
		switch {
		case r.Tool == "" && r.CallID == "" && r.Action == "ack":
			written[r.IdempotencyKey]++
		case r.Status == audit.StatusStarted:
			started[r.CallID]++
		case r.Status != audit.StatusReconciled && r.Status != audit.StatusInDoubt:
			terminal[r.CallID]++
		}
		return nil
	}))
	for k := range keys {
		assert.Equal(t, 1, written["key-"+strconv.Itoa(k)], "key-%d", k)
	}
	for id, n := range started {
		assert.Equal(t, 1, n, id)
		assert.Equal(t, 1, terminal[id], "call %s has one terminal record", id)
	}
}
