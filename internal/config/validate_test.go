package config

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveVars are every variable LoadServe reads; each test starts from none.
var serveVars = []string{"INTEGRATION_ENV", "AUDIT_LOG_PATH", "AUDIT_ACTOR", "AUDIT_SYNC", "DATA_DIR", "STORE_SYNC",
	"IDEMPOTENCY_WINDOW", "IDEMPOTENCY_KEY_TTL", "RECONCILE_SETTLE", "SLACK_API_URL", "GITHUB_API_URL", "STRIPE_API_URL",
	"HTTP_TIMEOUT", "HTTP_MAX_ATTEMPTS", "HTTP_MAX_WAIT", "HTTP_MAX_CALL_WAIT", "GITHUB_WRITE_INTERVAL",
	"SLACK_POST_INTERVAL", "READ_ONLY", "LOG_LEVEL"}

func clearServeEnv(t *testing.T) {
	t.Helper()
	for _, k := range serveVars {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
}

// A bad value gives an error at start-up that names the variable, rather
// than being ignored (an unknown LOG_LEVEL as info, a negative HTTP_TIMEOUT
// as no timeout, a negative RECONCILE_SETTLE as no second look) or failing
// every call later (a provider URL without a scheme leaves each call in
// doubt with an error that does not name the variable). Not parallel:
// envconfig reads the process environment.
func TestLoadServeRefusesBadValuesNamingTheVariable(t *testing.T) {
	tests := []struct{ name, value string }{
		{"LOG_LEVEL", "verbose"},
		{"LOG_LEVEL", "warning"},
		{"HTTP_TIMEOUT", "-5s"},
		{"HTTP_MAX_WAIT", "-1s"},
		{"HTTP_MAX_CALL_WAIT", "-1h"},
		{"RECONCILE_SETTLE", "-2s"},
		{"GITHUB_WRITE_INTERVAL", "-1s"},
		{"SLACK_POST_INTERVAL", "-1s"},
		{"GITHUB_API_URL", "ghe.example.com/api/v3"},
		{"SLACK_API_URL", "slack.com/api/"},
		{"STRIPE_API_URL", "not a url"},
		{"HTTP_TIMEOUT", "0s"},
		{"IDEMPOTENCY_WINDOW", "0s"},
		{"IDEMPOTENCY_KEY_TTL", "-1h"},
		{"IDEMPOTENCY_WINDOW", "500ms"},
		{"IDEMPOTENCY_KEY_TTL", "999ms"},
		{"HTTP_MAX_ATTEMPTS", "0"},
		// Nothing expands ~ in a variable (nor Claude Code in .mcp.json's
		// env): it made a directory named "~" wherever serve started
		// (found in review).
		{"DATA_DIR", "~/.local/state/saas-mcp/data"},
		{"AUDIT_LOG_PATH", "~/.local/state/saas-mcp/audit.ndjson"},
		{"DATA_DIR", "~alice/data"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			clearServeEnv(t)
			t.Setenv(tt.name, tt.value)
			_, err := LoadServe()
			require.Error(t, err, "%s=%q must be refused at start-up", tt.name, tt.value)
			assert.Contains(t, err.Error(), tt.name, "the error names the variable")
		})
	}
}

func TestLoadServeAcceptsTheDefaultsAndGoodValues(t *testing.T) {
	tests := []struct{ name, value string }{
		{"LOG_LEVEL", "DEBUG"},
		{"LOG_LEVEL", "warn"},
		{"RECONCILE_SETTLE", "0s"},
		{"IDEMPOTENCY_WINDOW", "1s"},
		{"IDEMPOTENCY_KEY_TTL", "1s"},
		{"GITHUB_WRITE_INTERVAL", "0s"},
		{"GITHUB_API_URL", "https://ghe.example.com/api/v3/"},
		{"SLACK_API_URL", "http://127.0.0.1:8080/api/"},
	}
	clearServeEnv(t)
	_, err := LoadServe()
	require.NoError(t, err, "the defaults")
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			clearServeEnv(t)
			t.Setenv(tt.name, tt.value)
			_, err := LoadServe()
			require.NoError(t, err)
		})
	}
}

// A duration that becomes a stored time is refused above a bound, naming
// the variable: IDEMPOTENCY_KEY_TTL=2190000h (250 years) once put every
// key's expiry past 2262, which SQLite stored as a time in 1691, so each
// key had expired when its retry came and the retry acted again. The lease
// (HTTP_MAX_CALL_WAIT + HTTP_MAX_ATTEMPTS x HTTP_TIMEOUT + 1m) is stored
// too, and could overflow. Not parallel: envconfig reads the process
// environment.
func TestLoadServeRefusesDurationsThatWouldBeStoredPastAnySaneTime(t *testing.T) {
	tests := []struct{ name, refused, accepted string }{
		{"IDEMPOTENCY_KEY_TTL", "2190000h", "8760h"},
		{"IDEMPOTENCY_KEY_TTL", "8761h", "720h"},
		{"IDEMPOTENCY_WINDOW", "2562047h", "8760h"},
		{"HTTP_TIMEOUT", "61m", "1h"},
		{"HTTP_MAX_CALL_WAIT", "25h", "24h"},
		{"HTTP_MAX_ATTEMPTS", "101", "100"},
		{"HTTP_MAX_ATTEMPTS", "1000000000000", "100"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.refused, func(t *testing.T) {
			clearServeEnv(t)
			t.Setenv(tt.name, tt.refused)
			_, err := LoadServe()
			require.Error(t, err, "%s=%s must be refused at start-up", tt.name, tt.refused)
			assert.Contains(t, err.Error(), tt.name, "the error names the variable")
			assert.Contains(t, err.Error(), "at most", "the error gives the bound")

			t.Setenv(tt.name, tt.accepted)
			_, err = LoadServe()
			assert.NoError(t, err, "%s=%s is within the bound", tt.name, tt.accepted)
		})
	}
}
