package httpx

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

func TestErrorTextHasNoSecrets(t *testing.T) {
	t.Parallel()
	const (
		webhookPath = "T0000/B0000/XXXXsecretXXXX"
		configured  = "corp-proxy-password-9"
	)
	// A base whose error echoes the URL, as many transports do.
	base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("proxy %s refused %s: %w", configured, r.URL, io.ErrUnexpectedEOF)
	})
	o := testOptions(newFakeClock(), base)
	o.Provider = "slack"
	o.Redactor = redact.New(configured)
	client := &http.Client{Transport: New(o)}

	_, err := client.Post("https://hooks.slack.com/services/"+webhookPath, "application/json", nil)
	require.Error(t, err)

	var he *Error
	require.ErrorAs(t, err, &he)
	msg := he.Error()
	assert.NotContains(t, msg, "XXXXsecretXXXX")
	assert.NotContains(t, msg, configured)
	assert.Contains(t, msg, redact.Mask)
	assert.Contains(t, msg, "slack request failed after 1 attempt(s), may have been sent")
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the cause stays reachable")
}

func TestNotSentClassifies(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name        string
		err         error
		wantNotSent bool
		wantSent    bool
	}{
		{name: "no error is neither", err: nil},
		{name: "a dial error was not sent", err: dial, wantNotSent: true},
		{name: "a DNS failure was not sent", err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}, wantNotSent: true},
		{name: "a bare DNS error was not sent", err: &net.DNSError{Err: "no such host"}, wantNotSent: true},
		{name: "connection refused wrapped in text was not sent", err: fmt.Errorf("post: %w", syscall.ECONNREFUSED), wantNotSent: true},
		{name: "a read error may have been sent", err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}, wantSent: true},
		{name: "an unknown error counts as sent", err: io.EOF, wantSent: true},
		{name: "an Error that says not sent is read through url.Error", err: &url.Error{Op: "Post", URL: "u", Err: &Error{Sent: false, Err: io.EOF}}, wantNotSent: true},
		{name: "an Error that says sent wins over a dial error inside it", err: &url.Error{Op: "Post", URL: "u", Err: &Error{Sent: true, Err: dial}}, wantSent: true},
		{name: "a wrapped Error is found", err: fmt.Errorf("create issue: %w", &Error{Sent: true, Err: io.EOF}), wantSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.wantNotSent, NotSent(tt.err))
			assert.Equal(t, tt.wantSent, Sent(tt.err))
		})
	}
}

func TestErrorUnwraps(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	e := &Error{Err: cause, Attempts: 2}
	assert.Same(t, cause, errors.Unwrap(e))
	assert.Equal(t, "request failed after 2 attempt(s), not sent: boom", e.Error())
}
