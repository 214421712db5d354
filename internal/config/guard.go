package config

import (
	"fmt"
	"regexp"
	"strings"
)

// placeholder matches a shell or .mcp.json variable reference left as text.
var placeholder = regexp.MustCompile(`^\$(\{[A-Za-z_][A-Za-z0-9_]*(:?[-=?+][^}]*)?\}|[A-Za-z_][A-Za-z0-9_]*)$`)

// CheckCredential applies the sandbox/live rule to one credential: sandbox
// refuses live Stripe keys, live refuses test Stripe keys. Slack and GitHub
// credentials carry no mode, so they pass. The error names the rule and the
// variable, never the value.
//
// A value that is a ${NAME} placeholder (also ${NAME:-default} and $NAME)
// is refused too: the MCP client passed the text of its configuration
// instead of expanding it, and the provider would only answer 401.
func CheckCredential(env, name string, s Secret) error {
	v := s.Reveal()
	if placeholder.MatchString(v) {
		return fmt.Errorf("placeholder rule: %s holds an unexpanded ${...} placeholder, not a credential: the MCP client passed its configuration's text; set the variable where the client starts saas-mcp, or its value in the client's env", name)
	}
	isLive := strings.HasPrefix(v, "sk_live_") || strings.HasPrefix(v, "rk_live_")
	isTest := strings.HasPrefix(v, "sk_test_") || strings.HasPrefix(v, "rk_test_")
	switch {
	case env == Sandbox && isLive:
		return fmt.Errorf("sandbox rule: %s holds a live key (sk_live_/rk_live_); INTEGRATION_ENV=sandbox accepts only test keys", name)
	case env == Live && isTest:
		return fmt.Errorf("live rule: %s holds a test key (sk_test_/rk_test_); INTEGRATION_ENV=live accepts only live keys", name)
	}
	return nil
}

// CheckLivemode applies the sandbox/live rule to a Stripe object's livemode.
func CheckLivemode(env string, livemode bool, what string) error {
	switch {
	case env == Sandbox && livemode:
		return fmt.Errorf("sandbox rule: %s has livemode: true; INTEGRATION_ENV=sandbox refuses live-mode data", what)
	case env == Live && !livemode:
		return fmt.Errorf("live rule: %s has livemode: false; INTEGRATION_ENV=live refuses test-mode data", what)
	}
	return nil
}
