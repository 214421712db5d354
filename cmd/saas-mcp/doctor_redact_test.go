package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/store/sqlite"
)

// TestDoctorRedactsTheTargetsItPrints (found in review): a writeAudit
// call's target is free text (up to 512 characters) and is the key row's
// target. When such a call is left in doubt (the client cancelled it, or
// the process was killed mid-call), serve's start-up report passes the
// target through the redactor (its log and the audit log), but doctor
// printed it as stored, in its table and in --json: a token the agent put
// in the target reached the operator's terminal (and CI logs) unredacted.
//
// And (found in review) doctor redacted with the configured secret values
// only when every credential loaded, so one empty secret mount (an error,
// and the very situation an operator runs doctor in) dropped them all, and
// a token without a known shape (a classic 40-hex GitHub token) was
// printed whole. Every readable credential is redacted, and the unreadable
// one is named.
//
// Not parallel: doctor reads the process environment.
func TestDoctorRedactsTheTargetsItPrints(t *testing.T) {
	tests := []struct {
		name  string
		token string
		env   func(t *testing.T, dir, token string)
		says  string
	}{
		{"a token of a known shape", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", nil, ""},
		{"a configured token, another secret file being empty", "0123456789abcdef0123456789abcdef01234567", // no prefix
			func(t *testing.T, dir, token string) {
				t.Setenv("GITHUB_TOKEN", token)
				empty := filepath.Join(dir, "slack-token")
				require.NoError(t, os.WriteFile(empty, nil, 0o600))
				t.Setenv("SLACK_BOT_TOKEN_FILE", empty)
			}, "SLACK_BOT_TOKEN_FILE names is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			t.Setenv("DATA_DIR", data)
			t.Setenv("AUDIT_LOG_PATH", filepath.Join(dir, "audit.ndjson"))
			if tt.env != nil {
				tt.env(t, dir, tt.token)
			}
			require.NoError(t, os.MkdirAll(data, 0o750))
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(data, "state.db"), sqlite.Options{})
			require.NoError(t, err)
			now := time.Now()
			c, err := idempotency.Policy{}.NewClaim("writeAudit", "", "0123abcd", "rotated "+tt.token, "owner-A", now)
			require.NoError(t, err)
			_, out, err := db.Keys().Claim(ctx, c, now, nil)
			require.NoError(t, err)
			require.Equal(t, idempotency.Acquired, out)
			require.NoError(t, db.Keys().MarkInDoubt(ctx, c.Key, "owner-A"))
			require.NoError(t, db.Close())

			for _, args := range [][]string{nil, {"--json"}} {
				var stdout, stderr bytes.Buffer
				code := runDoctor(ctx, args, &stdout, &stderr)
				want := 0
				if tt.says != "" {
					want = 1 // a credential file serve refuses is reported, the state shown all the same
				}
				require.Equal(t, want, code, stderr.String())
				require.Contains(t, stdout.String(), "writeAudit", "setup: the key in doubt is listed (%v)", args)
				assert.NotContains(t, stdout.String()+stderr.String(), tt.token, "doctor %v printed the token", args)
				assert.Contains(t, stderr.String(), tt.says)
			}
		})
	}
}
