package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Webhook signing-secret variables. Each holds one secret or several,
// comma-separated, so a secret can be rotated: during the change both the old
// and the new one verify. Each may also be given as NAME_FILE.
const (
	GitHubWebhookSecret = "GITHUB_WEBHOOK_SECRET"
	StripeWebhookSecret = "STRIPE_WEBHOOK_SECRET"
	SlackSigningSecret  = "SLACK_SIGNING_SECRET"
)

// Default body limits: GitHub caps its payloads at 25 MiB, Stripe and Slack
// send a few KiB.
const (
	DefaultGitHubMaxBody = 25 << 20
	DefaultOtherMaxBody  = 1 << 20
)

// Webhook is the configuration of `saas-mcp webhooks` and `saas-mcp worker`:
// the webhook variables only. Shared variables (AUDIT_LOG_PATH,
// INTEGRATION_ENV, STORE_SYNC, ...) stay in Serve.
type Webhook struct {
	Addr        string        `envconfig:"WEBHOOK_ADDR" default:"127.0.0.1:3000" desc:"listen address of the webhook receiver"`
	MaxBody     string        `envconfig:"WEBHOOK_MAX_BODY" desc:"largest accepted body, in bytes or with KiB/MiB/GiB, at most 1GiB (default 25MiB for GitHub, 1MiB for Stripe and Slack)"`
	MaxAttempts int           `envconfig:"WEBHOOK_MAX_ATTEMPTS" default:"8" desc:"attempts per delivery before it is dead-lettered"`
	Workers     int           `envconfig:"WEBHOOK_WORKERS" default:"4" desc:"jobs the worker runs at once (1 to 10000)"`
	Retention   time.Duration `envconfig:"WEBHOOK_RETENTION" default:"168h" desc:"how long a processed delivery is kept (at least 1h): a redelivery within it is a duplicate, and it can be replayed (Stripe retries for 3 days; dead letters are kept until replayed)"`
	DataDir     string        `envconfig:"DATA_DIR" default:"data" desc:"directory of the embedded SQLite state; deliveries and jobs go to webhooks.db"`
	DrainDelay  time.Duration `envconfig:"WEBHOOK_DRAIN_DELAY" default:"0s" desc:"on SIGTERM, how long /readyz answers draining while deliveries are still taken, before the listener closes (let a load balancer notice); 0 closes at once, at most 1h"`
	MaxConns    int           `envconfig:"WEBHOOK_MAX_CONNS" default:"1024" desc:"connections the receiver serves at once (1 to 100000); more wait in the listen queue until one closes, so memory stays under this many bodies of WEBHOOK_MAX_BODY"`

	// The secrets are read by LoadWebhook from NAME or NAME_FILE, not by
	// envconfig, so that no secret goes through reflection-based printing.
	GitHubSecrets []Secret `ignored:"true"`
	StripeSecrets []Secret `ignored:"true"`
	SlackSecrets  []Secret `ignored:"true"`
}

// InUse returns every signing secret held, for Redactor.
func (c Webhook) InUse() []InUse {
	var out []InUse
	for name, list := range map[string][]Secret{GitHubWebhookSecret: c.GitHubSecrets, StripeWebhookSecret: c.StripeSecrets,
		SlackSigningSecret: c.SlackSecrets} {
		for _, s := range list {
			out = append(out, InUse{Name: name, Value: s})
		}
	}
	return out
}

// LoadWebhook reads the webhook configuration from the environment, and the
// signing secrets through getenv (NAME, or the file named by NAME_FILE).
func LoadWebhook(getenv func(string) string) (Webhook, error) {
	var c Webhook
	if err := envconfig.Process("", &c); err != nil {
		return c, processError(err)
	}
	for _, s := range []struct {
		name string
		dst  *[]Secret
	}{
		{GitHubWebhookSecret, &c.GitHubSecrets},
		{StripeWebhookSecret, &c.StripeSecrets},
		{SlackSigningSecret, &c.SlackSecrets},
	} {
		raw, err := ReadSecret(getenv, s.name)
		if err != nil {
			return c, err
		}
		*s.dst = SplitSecrets(raw)
		if raw != "" && len(*s.dst) == 0 {
			// Set, but only commas and blanks: not "no secret", which
			// would start and refuse every delivery of the provider.
			return c, fmt.Errorf("%s holds no secret, only separators", s.name)
		}
		for _, sec := range *s.dst {
			if err := longEnough(s.name, sec.Reveal()); err != nil {
				return c, err
			}
		}
	}
	return c, c.Validate()
}

// ValidateReceiver checks the values only the receiver uses (its address,
// body limit and drain delay), for `saas-mcp webhooks`; Validate checks the
// rest, which the worker and the admin commands use too, so that they do
// not refuse to start over a value they never read.
func (c Webhook) ValidateReceiver() error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return fmt.Errorf("WEBHOOK_ADDR must be host:port (e.g. 127.0.0.1:3000), not %q", c.Addr)
	}
	if c.DrainDelay < 0 || c.DrainDelay > MaxDrainDelay {
		return fmt.Errorf("WEBHOOK_DRAIN_DELAY must be from 0 to 1h, not %s", c.DrainDelay)
	}
	if c.MaxConns < 1 || c.MaxConns > MaxWebhookConns {
		return fmt.Errorf("WEBHOOK_MAX_CONNS must be from 1 to %d, not %d", MaxWebhookConns, c.MaxConns)
	}
	if n, err := ParseByteSize(c.MaxBody); c.MaxBody != "" && err != nil {
		return fmt.Errorf("WEBHOOK_MAX_BODY: %w", err)
	} else if n > MaxWebhookBody {
		return fmt.Errorf("WEBHOOK_MAX_BODY: %q is over the largest body the receiver can store, 1GiB", c.MaxBody)
	}
	return nil
}

// MaxDrainDelay bounds WEBHOOK_DRAIN_DELAY: a load balancer's longest
// deregistration delay (AWS allows 1h); more is taken for a typo, such as
// 15h for 15s, that would hold a stopping receiver for most of a day.
const MaxDrainDelay = time.Hour

// MaxWebhookConns bounds WEBHOOK_MAX_CONNS.
const MaxWebhookConns = 100000

// MaxWebhookBody is the largest WEBHOOK_MAX_BODY: the payload log's records
// hold at most 1 GiB of payload, and a larger delivery, answered 202, would
// be read back as torn after a crash (found in review: up to 1 TiB was
// accepted).
const MaxWebhookBody = 1 << 30

// Validate checks values envconfig cannot, but those only the receiver
// uses (ValidateReceiver).
func (c Webhook) Validate() error {
	if c.MaxAttempts < 1 {
		return fmt.Errorf("WEBHOOK_MAX_ATTEMPTS must be at least 1, not %d", c.MaxAttempts)
	}
	if c.Workers < 1 || c.Workers > maxWorkers {
		return fmt.Errorf("WEBHOOK_WORKERS must be from 1 to %d, not %d", maxWorkers, c.Workers)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("DATA_DIR must name a directory, not %q", c.DataDir)
	}
	if err := checkNoTilde("DATA_DIR", c.DataDir); err != nil {
		return err
	}
	if c.Retention < time.Hour {
		return fmt.Errorf("WEBHOOK_RETENTION must be at least 1h (a provider's redelivery must still find the first copy), not %s", c.Retention)
	}
	return nil
}

// MaxBodyFor returns the body limit of a provider ("github", "stripe",
// "slack"): WEBHOOK_MAX_BODY when set, else the provider's default.
func (c Webhook) MaxBodyFor(provider string) int64 {
	// The variable unset (the default) is not parsed: this runs for every
	// delivery, and parsing "" cost 7 allocations each time.
	if c.MaxBody != "" {
		if n, err := ParseByteSize(c.MaxBody); err == nil {
			return n
		}
	}
	if provider == "github" {
		return DefaultGitHubMaxBody
	}
	return DefaultOtherMaxBody
}

// SplitSecrets splits a comma-separated list of secrets, dropping blanks.
func SplitSecrets(raw string) []Secret {
	var out []Secret
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, NewSecret(p))
		}
	}
	return out
}

// maxWorkers is River's limit on a queue's workers (QueueNumWorkersMax):
// above it River refuses to start, with an error naming no variable.
const maxWorkers = 10000

// ParseByteSize reads a positive size: plain bytes ("1048576") or with a
// KiB, MiB or GiB suffix ("25MiB"); KB/MB/GB are taken as the same binary
// units, since that is what people mean for body limits.
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	given := s // quoted as written in an error, not as cut down below
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a positive size like 1048576 or 25MiB", given)
	}
	return n * mult, nil
}
