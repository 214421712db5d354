package tools

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/redact"
	"github.com/saas-mcp/saas-mcp/schemas"
)

// TestWriteAuditKeepsAValidTargetWhole (found in review): a writeAudit
// target the schema accepts (at most 512 characters) is the
// agent's own account: the log must hold it as written. When the audit
// writer cut every target to 1 KiB (bytes), a valid 400-character target
// in a non-Latin script (1200 bytes) was stored cut, and writeAudit's result
// showed the cut one.
func TestWriteAuditKeepsAValidTargetWhole(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	red := redact.New("my-secret-value")
	w, err := audit.Open(path, audit.Options{Redactor: red})
	require.NoError(t, err)
	defer w.Close()
	def, err := WriteAudit(Deps{Audit: w, Now: time.Now, Redactor: red})
	require.NoError(t, err)

	target := strings.Repeat("日", 400) // 400 characters, 1200 bytes
	args := map[string]any{"provider": "jira", "action": "close_issue", "target": target}
	in, err := schemas.Input("writeAudit")
	require.NoError(t, err)
	v, err := chain.NewValidator(map[string][]byte{"writeAudit": in})
	require.NoError(t, err)
	require.NoError(t, v.Check("writeAudit", args), "the schema accepts this target")

	res, err := def.Chain.Run(context.Background(), chain.NewCall(def.Chain, args, "claude", "sandbox", "c1"))
	require.NoError(t, err)
	assert.Equal(t, target, res.(WrittenAudit).Target, "the result shows the target cut")

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var found bool
	for sc.Scan() {
		var r audit.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		if r.Action == "close_issue" {
			found = true
			assert.Equal(t, target, r.Target, "the audit log holds the agent's record cut")
		}
	}
	require.True(t, found)
}

// TestWriteAuditRefusesDetailsOverTheirBound (found in review): the schema
// bounds how many keys details has, not its size; a 16 MiB details made a
// 16 MiB audit line. It is refused, naming details, and nothing is written.
func TestWriteAuditRefusesDetailsOverTheirBound(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.ndjson")
	w, err := audit.Open(path, audit.Options{})
	require.NoError(t, err)
	defer w.Close()
	def, err := WriteAudit(Deps{Audit: w, Now: time.Now})
	require.NoError(t, err)
	for _, tt := range []struct {
		size int
		ok   bool
	}{{1 << 10, true}, {maxDetailsBytes + 1, false}} {
		args := map[string]any{"provider": "jira", "action": "close_issue", "target": "J-1",
			"details": map[string]any{"note": strings.Repeat("x", tt.size)}}
		_, err := def.Chain.Run(context.Background(), chain.NewCall(def.Chain, args, "claude", "sandbox", "c1"))
		if tt.ok {
			require.NoError(t, err)
			continue
		}
		require.Error(t, err)
		assert.Equal(t, chain.KindInvalid, chain.KindOf(err))
		assert.Contains(t, err.Error(), "details:")
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Less(t, st.Size(), int64(maxDetailsBytes), "only the small record was written")
}
