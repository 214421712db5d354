package attempt_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A relay webhook URL carries its secret in its host name (see the Slack
// webhookhost test). When the client's Timeout ends a lookup of that host,
// net/http returns a *url.Error whose Err is its timeoutError, a type with
// Timeout() but no Unwrap, whose text quotes the lookup error and so the
// host. The rebuilt chain replaces it by a cleanWrap, and the copied
// *url.Error, whose Timeout() asks its Err, said it was no timeout (found
// in review): the cleanWrap answers Timeout as the error it stands for.
func TestAScrubbedClientTimeoutIsStillATimeoutWhenItsTextQuotedASecretHost(t *testing.T) {
	t.Parallel()
	const host = "qz7vkp2mwx9rtl4nyb8hcj3d.relay.example"
	sc := attempt.Scrubber{redact.New("https://" + host + "/hook"), redact.New(host)}

	hc := &http.Client{Timeout: 50 * time.Millisecond,
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			time.Sleep(20 * time.Millisecond) // past the client's deadline, so net/http counts a Client.Timeout
			return nil, &net.OpError{Op: "dial", Net: "tcp",
				Err: &net.DNSError{Name: host, Err: "i/o timeout", IsTimeout: true}}
		})}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+host+"/hook", strings.NewReader("{}"))
	require.NoError(t, err)
	_, raw := hc.Do(req)
	require.Error(t, raw)
	var rawNE net.Error
	require.True(t, errors.As(raw, &rawNE) && rawNE.Timeout(), "control: net/http says timeout: %v", raw)
	require.Contains(t, raw.Error(), host, "control: the text quotes the secret host")
	require.Contains(t, raw.Error(), "Client.Timeout exceeded", "control: net/http's timeoutError")

	err = sc.Error(raw)
	assert.NotContains(t, err.Error(), host)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne), "a net.Error is still found: %v", err)
	assert.True(t, ne.Timeout(), "the scrubbed error still says it timed out: %v", err)
}
