package config_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// A relay's webhook URL may keep its token in the query (?token=...) or in a
// path segment other than the last; a login proxy in front of it quotes the
// whole request percent-encoded in its redirect (redirect_url=, rd=), which
// net/http's error for the refused redirect quotes in turn. Found in review:
// none of the URL's registered parts ("token=...", the whole URL, the last
// segment) appeared there as written, and the token was printed raw. The
// e2e test TestTheWebhookTokenDoesNotLeakThroughAPercentEncodedRedirect
// shows it through the binary.
func TestAWebhookURLsQueryAndPathTokensAreRedactedInEveryEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, hook, token string
	}{
		{"a query token", "https://relay.example/hooks/slack?token=Qz7vKp2mWx9RtL4nYb8HcJ3dFs6G", "Qz7vKp2mWx9RtL4nYb8HcJ3dFs6G"},
		{"a query token that escaping changes", "https://relay.example/hooks/slack?sig=Qz7v+Kp2m/Wx9R=tL4nYb8HcJ3d", "Qz7v+Kp2m/Wx9R=tL4nYb8HcJ3d"},
		{"a token in a middle segment", "https://relay.example/hooks/Qz7vKp2mWx9RtL4nYb8HcJ3dFs6G/slack", "Qz7vKp2mWx9RtL4nYb8HcJ3dFs6G"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{config.SlackWebhookURL: tt.hook}
			red, _ := config.Redactor(func(k string) string { return env[k] })
			u, err := url.Parse(tt.hook)
			if err != nil {
				t.Fatal(err)
			}
			for _, quoted := range []string{
				"Post \"https://login.example/cdn-cgi/access/login?redirect_url=" + url.QueryEscape(u.RequestURI()) + "\": redirect to another host refused",
				"Post \"https://login.example/oauth2/start?rd=" + url.QueryEscape(tt.hook) + "\": redirect refused",
				"Post \"https://login.example/" + url.PathEscape(u.RequestURI()) + "\": refused",
				"value: " + tt.token,
			} {
				got := red.String(quoted)
				assert.NotContains(t, got, tt.token, "in %q", quoted)
				assert.NotContains(t, got, url.QueryEscape(tt.token), "in %q", quoted)
			}
		})
	}
}
