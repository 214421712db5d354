// Package config loads saas-mcp's settings from the environment (envconfig),
// reads credentials from NAME or NAME_FILE, and holds the sandbox/live rules.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// Environments.
const (
	Sandbox = "sandbox"
	Live    = "live"
)

// Credential variable names.
const (
	SlackBotToken   = "SLACK_BOT_TOKEN"
	SlackWebhookURL = "SLACK_WEBHOOK_URL"
	GitHubToken     = "GITHUB_TOKEN"
	StripeSecretKey = "STRIPE_SECRET_KEY"
)

// CredentialNames lists every credential serve reads.
var CredentialNames = []string{SlackBotToken, SlackWebhookURL, GitHubToken, StripeSecretKey}

// minKeyKept is the shortest IDEMPOTENCY_WINDOW or IDEMPOTENCY_KEY_TTL. A
// GitHub issue's marker and a Slack message's metadata name the key's claim
// in whole seconds, to tell an effect of the key's life in doubt from one of
// its earlier life (the key expired and was claimed again); two lives less
// than a second apart could share that second.
const minKeyKept = time.Second

// Upper bounds of the serve settings that become stored times. A key's
// expiry is now + IDEMPOTENCY_WINDOW or IDEMPOTENCY_KEY_TTL, a claim's
// lease now + HTTP_MAX_CALL_WAIT + HTTP_MAX_ATTEMPTS x HTTP_TIMEOUT + 1m:
// unbounded, they reach past what a store can hold (SQLite's times end in
// 2262) or overflow time.Duration, and every key would be refused, or
// stored already expired so that a retry acts again. The bounds sit far
// above any sensible value and far below those limits: the longest lease is
// about five days.
const (
	maxKeyKept      = 365 * 24 * time.Hour // IDEMPOTENCY_WINDOW, IDEMPOTENCY_KEY_TTL
	maxHTTPTimeout  = time.Hour            // HTTP_TIMEOUT
	maxHTTPCallWait = 24 * time.Hour       // HTTP_MAX_CALL_WAIT
	maxHTTPAttempts = 100                  // HTTP_MAX_ATTEMPTS
)

// Serve is the configuration of `saas-mcp serve`. Each field's envconfig tag
// is its variable; `desc` is printed by --help.
type Serve struct {
	Env               string        `envconfig:"INTEGRATION_ENV" default:"sandbox" desc:"sandbox or live; sandbox refuses live credentials and live-mode events, live refuses test keys"`
	AuditLogPath      string        `envconfig:"AUDIT_LOG_PATH" default:"logs/saas-audit.ndjson" desc:"append-only NDJSON audit log"`
	AuditActor        string        `envconfig:"AUDIT_ACTOR" desc:"actor recorded in the audit log (default: the MCP client's name)"`
	AuditSync         string        `envconfig:"AUDIT_SYNC" default:"always" desc:"always: fsync every audit record (within 20ms for tool calls, which do not wait for it); never: leave it to the OS (survives a process crash, not a power loss)"`
	DataDir           string        `envconfig:"DATA_DIR" default:"data" desc:"directory of the embedded SQLite state (idempotency keys, payments ledger)"`
	StoreSync         string        `envconfig:"STORE_SYNC" default:"FULL" desc:"FULL: each claim and ledger record is fdatasynced to disk before it returns (survives power loss); NORMAL: not (survives a process crash)"`
	IdempotencyWindow time.Duration `envconfig:"IDEMPOTENCY_WINDOW" default:"10m" desc:"calls without idempotencyKey dedupe identical arguments within this window (1s to 8760h)"`
	IdempotencyKeyTTL time.Duration `envconfig:"IDEMPOTENCY_KEY_TTL" default:"24h" desc:"how long an explicit idempotencyKey is kept (1s to 8760h)"`
	ReconcileSettle   time.Duration `envconfig:"RECONCILE_SETTLE" default:"2s" desc:"before re-sending a call that may have acted, look for its effect, wait this long, and look again"`
	SlackAPIURL       string        `envconfig:"SLACK_API_URL" default:"https://slack.com/api/" desc:"Slack Web API base URL"`
	GitHubAPIURL      string        `envconfig:"GITHUB_API_URL" default:"https://api.github.com/" desc:"GitHub REST API base URL"`
	StripeAPIURL      string        `envconfig:"STRIPE_API_URL" default:"https://api.stripe.com" desc:"Stripe API base URL"`
	HTTPTimeout       time.Duration `envconfig:"HTTP_TIMEOUT" default:"30s" desc:"timeout of one HTTP attempt to a provider (at most 1h)"`
	HTTPMaxAttempts   int           `envconfig:"HTTP_MAX_ATTEMPTS" default:"5" desc:"attempts per provider request, first included (at most 100)"`
	HTTPMaxWait       time.Duration `envconfig:"HTTP_MAX_WAIT" default:"30s" desc:"longest single wait before a retry (Retry-After above it is not waited for)"`
	HTTPMaxCallWait   time.Duration `envconfig:"HTTP_MAX_CALL_WAIT" default:"60s" desc:"longest total waiting per tool call (at most 24h)"`
	GitHubWriteGap    time.Duration `envconfig:"GITHUB_WRITE_INTERVAL" default:"1s" desc:"least time between two GitHub writes (GitHub asks for 1s); 0 disables"`
	SlackPostGap      time.Duration `envconfig:"SLACK_POST_INTERVAL" default:"1s" desc:"least time between two chat.postMessage calls to one channel; 0 disables"`
	ReadOnly          bool          `envconfig:"READ_ONLY" default:"false" desc:"refuse every tool that changes something at a provider (sendMessage, createTicket)"`
	LogLevel          string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error (JSON logs on stderr)"`
}

// LoadServe reads the serve configuration from the environment.
func LoadServe() (Serve, error) {
	var c Serve
	if err := envconfig.Process("", &c); err != nil {
		return c, processError(err)
	}
	return c, c.Validate()
}

// processError says which variable envconfig could not read, and why, in
// the user's terms: its own message names Go fields and types ("assigning
// READ_ONLY to ReadOnly: converting 'yes' to type bool. details:
// strconv.ParseBool...", found in review).
func processError(err error) error {
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read configuration: %w", err)
	}
	want := map[string]string{
		"bool": "true or false", "int": "a whole number", "int64": "a whole number",
		"Duration": "a duration such as 30s, 5m or 24h",
	}[strings.TrimPrefix(pe.TypeName, "time.")]
	if want == "" {
		want = "a valid " + pe.TypeName
	}
	// A value too long to be one of these is not quoted at all: it is a
	// paste into the wrong line, perhaps of a secret, and a cut piece of a
	// secret would no longer match whole for the redaction that follows
	// (found in review: the first 100 bytes of a 128-character signing
	// secret were printed).
	if len(pe.Value) > maxQuotedValue {
		return fmt.Errorf("%s holds %d bytes, which is not %s (not shown: too long to be one)", pe.KeyName, len(pe.Value), want)
	}
	return fmt.Errorf("%s is %q, which is not %s", pe.KeyName, pe.Value, want)
}

// maxQuotedValue is the longest bad value of a typed variable quoted back:
// far longer than any bool, number or duration.
const maxQuotedValue = 40

// LoadShared reads the serve variables the webhook receiver and worker also
// read (AUDIT_LOG_PATH, AUDIT_SYNC, INTEGRATION_ENV, STORE_SYNC, LOG_LEVEL)
// and checks only those: an environment shared with serve must not stop
// the receiver over a variable it never uses (an HTTP_TIMEOUT that serve
// refuses, say), while providers retry and may disable the endpoint.
func LoadShared() (Serve, error) {
	var c Serve
	if err := envconfig.Process("", &c); err != nil {
		return c, processError(err)
	}
	return c, c.validateShared()
}

// validateShared checks the variables LoadShared reads.
func (c Serve) validateShared() error {
	if strings.TrimSpace(c.AuditLogPath) == "" {
		return fmt.Errorf("AUDIT_LOG_PATH must name a file")
	}
	if err := checkNoTilde("AUDIT_LOG_PATH", c.AuditLogPath); err != nil {
		return err
	}
	if c.Env != Sandbox && c.Env != Live {
		return fmt.Errorf("INTEGRATION_ENV must be %q or %q, not %q", Sandbox, Live, c.Env)
	}
	switch c.AuditSync {
	case "always", "never":
	default:
		return fmt.Errorf("AUDIT_SYNC must be always or never, not %q", c.AuditSync)
	}
	switch strings.ToUpper(c.StoreSync) {
	case "FULL", "NORMAL":
	default:
		return fmt.Errorf("STORE_SYNC must be FULL or NORMAL, not %q", c.StoreSync)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return nil
}

// checkNoTilde refuses a path that starts with "~": no shell expands it
// in a variable's value, nor does Claude Code in .mcp.json's env, so it
// would name a directory called "~" in whatever directory the process
// starts in, and sessions started from different directories would keep
// separate state (and so separate idempotency keys).
func checkNoTilde(name, path string) error {
	if strings.HasPrefix(path, "~") {
		return fmt.Errorf("%s starts with ~, which is not expanded here (nor in .mcp.json's env): use an absolute path, "+
			"or ${HOME}/... in .mcp.json", name)
	}
	return nil
}

// Validate checks values envconfig cannot.
func (c Serve) Validate() error {
	if err := c.validateShared(); err != nil {
		return err
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("DATA_DIR must name a directory, not %q", c.DataDir)
	}
	if err := checkNoTilde("DATA_DIR", c.DataDir); err != nil {
		return err
	}
	if c.HTTPMaxAttempts < 1 || c.HTTPMaxAttempts > maxHTTPAttempts {
		return fmt.Errorf("HTTP_MAX_ATTEMPTS must be at least 1 and at most %d, not %d", maxHTTPAttempts, c.HTTPMaxAttempts)
	}
	for _, d := range []struct {
		name     string
		v        time.Duration
		positive bool          // 0 is no bound at all, which these must have
		min, max time.Duration // 0: none
	}{
		{"IDEMPOTENCY_WINDOW", c.IdempotencyWindow, true, minKeyKept, maxKeyKept},
		{"IDEMPOTENCY_KEY_TTL", c.IdempotencyKeyTTL, true, minKeyKept, maxKeyKept},
		{"HTTP_TIMEOUT", c.HTTPTimeout, true, 0, maxHTTPTimeout}, {"HTTP_MAX_WAIT", c.HTTPMaxWait, true, 0, 0},
		{"HTTP_MAX_CALL_WAIT", c.HTTPMaxCallWait, true, 0, maxHTTPCallWait}, {"RECONCILE_SETTLE", c.ReconcileSettle, false, 0, 0},
		{"GITHUB_WRITE_INTERVAL", c.GitHubWriteGap, false, 0, 0}, {"SLACK_POST_INTERVAL", c.SlackPostGap, false, 0, 0},
	} {
		if d.v < 0 || (d.positive && d.v == 0) {
			want := "at least 0"
			if d.positive {
				want = "more than 0"
			}
			return fmt.Errorf("%s must be %s, not %s", d.name, want, d.v)
		}
		if d.v < d.min {
			return fmt.Errorf("%s must be at least %s, not %s", d.name, d.min, d.v)
		}
		if d.max > 0 && d.v > d.max {
			return fmt.Errorf("%s must be at most %s, not %s", d.name, d.max, d.v)
		}
	}
	for _, u := range []struct{ name, v string }{
		{"SLACK_API_URL", c.SlackAPIURL}, {"GITHUB_API_URL", c.GitHubAPIURL}, {"STRIPE_API_URL", c.StripeAPIURL},
	} {
		if err := checkBaseURL(u.v); err != nil {
			return fmt.Errorf("%s: %w", u.name, err)
		}
	}
	return nil
}

// checkBaseURL accepts an absolute http or https URL with a host.
func checkBaseURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an http:// or https:// URL with a host", v)
	}
	return nil
}

// Secrets holds the credentials read at start-up, by variable name.
type Secrets struct {
	values map[string]Secret
}

// InUse returns every credential held, for Redactor.
func (s Secrets) InUse() []InUse {
	out := make([]InUse, 0, len(s.values))
	for name, v := range s.values {
		out = append(out, InUse{Name: name, Value: v})
	}
	return out
}

// LoadSecrets reads each named credential from NAME, or from the file named by
// NAME_FILE (trailing newline trimmed). Setting both is an error: which one
// wins would be a guess.
func LoadSecrets(getenv func(string) string, names ...string) (Secrets, error) {
	s := Secrets{values: map[string]Secret{}}
	for _, name := range names {
		v, err := ReadSecret(getenv, name)
		if err != nil {
			return s, err
		}
		if v != "" && name == SlackWebhookURL {
			// Checked like the API URLs, but never quoted: the webhook
			// URL is itself the secret.
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return s, fmt.Errorf("%s is not an http:// or https:// URL with a host", name)
			}
		}
		if err := longEnough(name, v); err != nil {
			return s, err
		}
		if v != "" {
			s.values[name] = NewSecret(v)
		}
	}
	return s, nil
}

// longEnough refuses a set secret shorter than redact.MinSecret: no real
// credential is, and the redactor leaves values that short alone (they
// would mangle ordinary text), so it would reach logs and audit records
// (found in review). The message names the variable, never the value.
func longEnough(name, v string) error {
	if v != "" && len(v) < redact.MinSecret {
		return fmt.Errorf("%s is shorter than %d characters: no real secret is, and one so short could not be kept out of logs and audit records",
			name, redact.MinSecret)
	}
	return nil
}

// ReadSecret returns the value of NAME or the contents of NAME_FILE.
func ReadSecret(getenv func(string) string, name string) (string, error) {
	v, file := getenv(name), getenv(name+"_FILE")
	if v != "" && file != "" {
		return "", fmt.Errorf("both %s and %s_FILE are set; set one", name, name)
	}
	if file == "" {
		return strings.TrimSpace(v), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// Only the cause, not the path: a token set by mistake in NAME_FILE
		// instead of NAME would be printed whole.
		return "", fmt.Errorf("read the file %s_FILE names: %w", name, unwrapPathErr(err))
	}
	v = strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff")) // a BOM, as Notepad writes
	if v == "" {
		// Set but empty (a secret mount not yet populated, a failed
		// write): not "no credential", which would send the operator to
		// set a variable that is set.
		return "", fmt.Errorf("the file %s_FILE names is empty", name)
	}
	return v, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Get returns a credential and whether it is set.
func (s Secrets) Get(name string) (Secret, bool) {
	v, ok := s.values[name]
	return v, ok && v.IsSet()
}
