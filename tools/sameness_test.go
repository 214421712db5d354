package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/chain"
	"github.com/saas-mcp/saas-mcp/internal/provider/github"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// issueRecorder is a GitHub client that keeps the issues asked for.
type issueRecorder struct {
	mu     sync.Mutex
	issues []github.Issue
}

func (g *issueRecorder) CreateIssue(_ context.Context, in github.Issue) (github.Created, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.issues = append(g.issues, in)
	return github.Created{Number: 1, URL: "u"}, nil
}

func (g *issueRecorder) FindByKey(context.Context, string, string, time.Time) (github.Created, bool, error) {
	return github.Created{}, false, nil
}

// decode reads arguments as mcpserver does: numbers as json.Number.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	return m
}

// Every tool declares which spellings of its arguments are one call (its
// chain.Tool.Form): these tests hold each declaration to what the tool
// really does with them, so that one key never stands for two effects.
func TestSpellingsTakenForOneCallMakeTheSameEffect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		tool          string
		short, longer string
	}{
		{"createTicket with an empty body, labels and assignees", "createTicket",
			`{"repo":"acme/app","title":"t"}`, `{"repo":"acme/app","title":"t","body":"","labels":[],"assignees":[]}`},
		{"writeAudit with its default status spelled out", "writeAudit",
			`{"provider":"ci","action":"deploy","target":"prod"}`, `{"provider":"ci","action":"deploy","target":"prod","status":"succeeded"}`},
		{"writeAudit with empty details", "writeAudit",
			`{"provider":"ci","action":"deploy","target":"prod"}`, `{"provider":"ci","action":"deploy","target":"prod","details":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gh := &issueRecorder{}
			log, err := audit.Open(filepath.Join(t.TempDir(), "audit.ndjson"), audit.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = log.Close() })
			at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
			defs, err := All(Deps{Env: "sandbox", GitHub: gh, Audit: log, Now: func() time.Time { return at }, Redactor: redact.New()})
			require.NoError(t, err)
			var def *chain.Tool
			for _, d := range defs {
				if d.MCP.Name == tt.tool {
					def = d.Chain
				}
			}
			require.NotNil(t, def)

			short := chain.NewCall(def, decode(t, tt.short), "t", "sandbox", "c1")
			longer := chain.NewCall(def, decode(t, tt.longer), "t", "sandbox", "c2")
			require.Equal(t, short.Key, longer.Key, "the tool takes both for one call")
			r1, err := def.Run(t.Context(), short)
			require.NoError(t, err)
			r2, err := def.Run(t.Context(), longer)
			require.NoError(t, err)
			j1, err := json.Marshal(r1)
			require.NoError(t, err)
			j2, err := json.Marshal(r2)
			require.NoError(t, err)
			assert.Equal(t, string(j1), string(j2), "both spellings give the agent one result")
			switch tt.tool {
			case "createTicket":
				require.Len(t, gh.issues, 2)
				assert.Equal(t, gh.issues[0], gh.issues[1], "GitHub is asked for the same issue")
			case "writeAudit":
				raw, err := os.ReadFile(log.Path())
				require.NoError(t, err)
				lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
				require.Len(t, lines, 2)
				assert.Equal(t, lines[0], lines[1], "the log holds the same record")
			}
		})
	}
}

func TestWriteAuditRecordsExactNumbers(t *testing.T) {
	t.Parallel()
	s := &sink{}
	def, err := WriteAudit(Deps{Audit: s, Now: time.Now, Redactor: redact.New()})
	require.NoError(t, err)
	args := decode(t, `{"provider":"discord","action":"ban","target":"guild","details":{"userId":9007199254740993,"ratio":0.10000000000000000001}}`)
	v, err := def.Chain.Run(t.Context(), chain.NewCall(def.Chain, args, "t", "sandbox", "c1"))
	require.NoError(t, err)
	require.Len(t, s.recs, 1)
	b, err := json.Marshal(s.recs[0].Details)
	require.NoError(t, err)
	assert.Equal(t, `{"ratio":0.10000000000000000001,"userId":9007199254740993}`, string(b), "the record holds the numbers sent")
	out, err := json.Marshal(v)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"userId":9007199254740993`, "the echo shows them too")
}
