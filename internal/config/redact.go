package config

import (
	"io"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// secretVariables are every variable that holds a secret, whichever
// command reads it: serve's credentials and the webhook signing secrets.
// Every command redacts all of them, since a `.env` loaded whole sets them
// all, and a secret of one command can reach another's output (a
// writeAudit call quoting a signing secret, say).
var secretVariables = append(append([]string(nil), CredentialNames...), GitHubWebhookSecret, StripeWebhookSecret, SlackSigningSecret)

// Redactor returns a redactor for every secret configured in the
// environment (NAME or NAME_FILE, each entry of a rotated list), plus the
// known token shapes, plus inUse: the secrets the command has already read
// and will use, in the same spellings. A NAME_FILE is read again here, and
// a file rewritten in between (a secret rotated while the command starts)
// would otherwise leave the value in use unredacted. A variable that cannot
// be read is skipped, and its error returned among unread, for a command
// that reports rather than refuses (doctor); the others read it again and
// refuse.
//
// The redactor also holds each secret in full (redact.Held: each value, each
// entry of a list, a webhook URL's token and userinfo), for refusing an
// idempotencyKey that holds one.
func Redactor(getenv func(string) string, inUse ...InUse) (red *redact.Redactor, unread []error) {
	vals, held, unread := secretStrings(getenv)
	for _, s := range inUse {
		if s.Value.IsSet() {
			vals = append(vals, spellings(s.Name, s.Value.Reveal())...)
			held = append(held, heldValues(s.Name, s.Value.Reveal())...)
		}
	}
	return redact.New(vals...).Held(held...), unread
}

// ShortSecrets returns an error for each secret variable set (by any
// command: serve's credentials, the signing secrets) to a value, or a
// rotated entry, shorter than redact.MinSecret. The redactor leaves values
// that short alone, so every command refuses to start with one in its
// environment, whether or not it uses it: it could not be kept out of its
// logs and audit records (found in review: serve checked only its own
// credentials, the receiver only its signing secrets). A variable that
// cannot be read is not reported here (Redactor's unread says so).
func ShortSecrets(getenv func(string) string) []error {
	var out []error
	for _, name := range secretVariables {
		v, _ := secretInEnv(getenv, name)
		if v == "" {
			continue
		}
		check := entries(v) // a rotated list's every entry
		if name == SlackWebhookURL {
			check = []string{v} // a URL, whatever its commas
		}
		for _, c := range check {
			if err := longEnough(name, c); err != nil {
				out = append(out, err)
				break
			}
		}
	}
	return out
}

// secretInEnv is ReadSecret for redaction: when the variable cannot be read
// as a whole (NAME and NAME_FILE both set, or NAME_FILE unreadable), NAME's
// own value, if set, is still in the environment and still to be masked
// and checked (found in review: it was skipped, neither masked nor checked
// for length, in a command that does not read that variable itself).
func secretInEnv(getenv func(string) string, name string) (string, error) {
	v, err := ReadSecret(getenv, name)
	if err != nil {
		return strings.TrimSpace(getenv(name)), err
	}
	return v, nil
}

// InUse is a secret a command read, with the variable it came from, for
// Redactor.
type InUse struct {
	Name  string
	Value Secret
}

// SecretValues returns the strings to redact for every configured secret,
// in all their spellings.
func SecretValues(getenv func(string) string) (out []string, unread []error) {
	out, _, unread = secretStrings(getenv)
	return out, unread
}

// secretStrings reads every configured secret once and returns the strings
// to redact (spellings) and those held in full (heldValues).
func secretStrings(getenv func(string) string) (masked, held []string, unread []error) {
	masked, held = collectSecrets(func(name string) string {
		v, err := secretInEnv(getenv, name)
		if err != nil {
			unread = append(unread, err)
		}
		return v
	})
	return masked, held, unread
}

// collectSecrets returns the strings to redact (spellings) and those held in
// full (heldValues) of every secret variable, each read with read ("" for
// none).
func collectSecrets(read func(name string) string) (masked, held []string) {
	for _, name := range secretVariables {
		if v := read(name); v != "" {
			masked = append(masked, spellings(name, v)...)
			held = append(held, heldValues(name, v)...)
		}
	}
	return masked, held
}

// spellings are the strings that identify the secret value v of variable
// name: its entries (entries), and for the Slack webhook URL (itself the
// secret) its parts too (urlParts), which an error may quote in another
// spelling of the URL (after a redirect to https, or with a password masked
// by net/url) or on their own.
func spellings(name, v string) []string {
	if name == SlackWebhookURL {
		return append([]string{v}, urlParts(v)...)
	}
	return entries(v)
}

// heldValues are the parts of secret v of variable name that are secret in
// full: its entries, and for the Slack webhook URL its userinfo and, on
// Slack's own hosts, its token (the last path segment); not a relay's path,
// query or host, which may be public ("incoming-webhook").
func heldValues(name, v string) []string {
	if name != SlackWebhookURL {
		return entries(v)
	}
	out := []string{v}
	if u, err := url.Parse(v); err == nil {
		password, _ := u.User.Password()
		out = append(out, u.User.Username(), password)
		if onSlackHost(u) {
			out = append(out, lastSegment(u.Path))
		}
	}
	return out
}

// entries are v and, for a comma-separated list of signing secrets, each
// entry of it.
func entries(v string) []string {
	out := []string{v}
	if strings.Contains(v, ",") {
		for _, s := range SplitSecrets(v) {
			out = append(out, s.Reveal())
		}
	}
	return out
}

// urlParts are the parts of a secret URL that identify it on their own.
// Parts shorter than 16 bytes ("/", a short route, an ordinary word) would
// redact ordinary text and identify nothing; Slack's own are a 24-byte
// token and the path holding it. The host, its first label and a password
// count too: a relay may keep the secret in a sub-domain (one per hook),
// and a DNS or TLS error names the host on its own (found in review). Slack's
// public webhook hosts stay readable, with or without a port: they are the
// operator's clue in a dial error (found in a later review).
func urlParts(v string) []string {
	u, err := url.Parse(v)
	if err != nil {
		return nil
	}
	password, _ := u.User.Password()
	parts := []string{u.EscapedPath(), u.Path, u.RawQuery,
		u.User.Username(), password} // net/http prints user:***@host: the user name is left whole (found in review)
	// Each path segment (the last one a Slack token) and query value on its
	// own, and as a query or a path escapes it: a relay that keeps its token in the query
	// (?token=...) is quoted percent-encoded inside another URL, a login
	// proxy's redirect_url= in a refused redirect's Location, where neither
	// "token=..." nor the whole URL appears as written (found in review).
	for _, seg := range strings.Split(u.Path, "/") {
		parts = append(parts, seg, url.PathEscape(seg))
	}
	for _, pair := range strings.Split(u.RawQuery, "&") {
		_, raw, _ := strings.Cut(pair, "=")
		vs := []string{raw}
		if v, err := url.QueryUnescape(raw); err == nil {
			vs = append(vs, v)
		}
		for _, v := range vs { // as written, and as decoded ("+" a space)
			parts = append(parts, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	if !onSlackHost(u) {
		label, _, _ := strings.Cut(u.Hostname(), ".")
		parts = append(parts, u.Host, u.Hostname(), label)
	}
	var out []string
	for _, p := range parts {
		if len(p) >= 16 {
			out = append(out, p)
		}
	}
	return out
}

// publicSlackHosts are the hosts of Slack's own incoming webhooks.
var publicSlackHosts = map[string]bool{"hooks.slack.com": true, "hooks.slack-gov.com": true}

// onSlackHost reports whether u is on one of Slack's own webhook hosts,
// whatever its case, port or trailing dot.
func onSlackHost(u *url.URL) bool {
	return publicSlackHosts[strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))]
}

// lastSegment is the last non-empty segment of path: a webhook URL may end
// in "/", and its token is then the segment before (found in review).
func lastSegment(path string) string {
	p := strings.TrimRight(path, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// EnvRedactor masks the value of every secret variable set, for an error
// printed as a command fails: the variable's own value, or the contents of
// the regular file its NAME_FILE names, if small (maxQuickFile). Nothing
// else is opened then: a FIFO or an endless file named by a variable the
// command never read would hang it (found in review).
func EnvRedactor(getenv func(string) string) *redact.Redactor {
	masked, held := collectSecrets(func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" { // as ReadSecret trims (found in review: a trailing CR hid a URL's token)
			return v
		}
		return quickFile(getenv(name + "_FILE"))
	})
	return redact.New(masked...).Held(held...)
}

// maxQuickFile bounds what quickFile reads: a secret is a line or a few.
const maxQuickFile = 64 << 10

// quickFile is the trimmed contents of path if it is a regular file of at
// most maxQuickFile bytes, else "". It is opened without blocking (a FIFO
// swapped in after a check by name would block an open: found in review)
// and checked as opened.
func quickFile(path string) string {
	if path == "" {
		return ""
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxQuickFile {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, maxQuickFile))
	return strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff"))
}
