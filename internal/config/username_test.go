package config_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
)

// A webhook URL whose secret is its userinfo's user name (basic auth with
// the token as user, an empty or throwaway password) is masked only as the
// whole URL; Go's HTTP client quotes the URL with the password replaced by
// "***", so the whole URL is no longer in the error and the token was
// printed raw: urlParts registered the password but not the user name
// (found in review).
func TestAWebhookURLsUserNameIsRedacted(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens: connection refused
	const user = "k7Qz9VbX2mP4wL8nR3tYq5Ws"
	for _, pass := range []string{"", "x"} {
		u := "http://" + user + ":" + pass + "@" + addr + "/hook"
		env := map[string]string{config.SlackWebhookURL: u}
		red, _ := config.Redactor(func(k string) string { return env[k] })
		_, err := http.Post(u, "application/json", strings.NewReader("{}"))
		require.Error(t, err)
		assert.NotContains(t, red.Error(err), user, "password %q", pass)
	}
}
