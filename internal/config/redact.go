package config

import (
	"net/url"
	"strings"

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
	vals, unread := SecretValues(getenv)
	var held []string
	for _, name := range secretVariables {
		if v, err := ReadSecret(getenv, name); err == nil && v != "" {
			held = append(held, heldValues(name, v)...)
		}
	}
	for _, s := range inUse {
		if s.Value.IsSet() {
			vals = append(vals, spellings(s.Name, s.Value.Reveal())...)
			held = append(held, heldValues(s.Name, s.Value.Reveal())...)
		}
	}
	return redact.New(vals...).Held(held...), unread
}

// heldValues are the parts of secret v of variable name that are secret in
// full: v, each entry of a list, and for the Slack webhook URL its userinfo
// and, on Slack's own hosts, its token (the last path segment); not a
// relay's path, query or host, which may be public ("incoming-webhook").
func heldValues(name, v string) []string {
	if name != SlackWebhookURL {
		out := []string{v}
		if strings.Contains(v, ",") {
			for _, s := range SplitSecrets(v) {
				out = append(out, s.Reveal())
			}
		}
		return out
	}
	out := []string{v}
	if u, err := url.Parse(v); err == nil {
		password, _ := u.User.Password()
		out = append(out, u.User.Username(), password)
		if publicSlackHosts[strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))] {
			out = append(out, lastSegment(u.Path))
		}
	}
	return out
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
	for _, name := range secretVariables {
		v, err := ReadSecret(getenv, name)
		if err != nil {
			unread = append(unread, err)
			continue
		}
		if v != "" {
			out = append(out, spellings(name, v)...)
		}
	}
	return out, unread
}

// spellings are the strings that identify the secret value v of variable
// name: v itself, each entry of a comma-separated list, and for the Slack
// webhook URL (itself the secret) its path, query and last path segment
// too, which an error may quote in another spelling of the URL (after a
// redirect to https, or with a password masked by net/url).
func spellings(name, v string) []string {
	out := []string{v}
	if name != SlackWebhookURL && strings.Contains(v, ",") { // lists of signing secrets, not a URL's query
		for _, s := range SplitSecrets(v) {
			out = append(out, s.Reveal())
		}
	}
	if name == SlackWebhookURL {
		out = append(out, urlParts(v)...)
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
	parts := []string{u.EscapedPath(), u.Path, u.RawQuery, lastSegment(u.Path),
		u.User.Username(), password} // net/http prints user:***@host: the user name is left whole (found in review)
	if host := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")); !publicSlackHosts[host] {
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

// lastSegment is the last non-empty segment of path: a webhook URL may end
// in "/", and its token is then the segment before (found in review).
func lastSegment(path string) string {
	p := strings.TrimRight(path, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}
