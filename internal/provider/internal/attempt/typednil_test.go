package attempt_test

import (
	"net"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// A *url.Error whose Err is a typed nil *net.OpError prints ("<nil>": the
// OpError's Error is nil-safe), but (*net.OpError)(nil).Unwrap dereferences
// its receiver, and the rebuild of the chain called it: Scrubber.Error
// panicked (found in review). It falls back to the scrubbed text.
func TestScrubbingAnErrorThatWrapsATypedNilDoesNotPanic(t *testing.T) {
	t.Parallel()
	sc := attempt.Scrubber{redact.New("s3cret-value")}
	ue := &url.Error{Op: "Post", URL: "http://127.0.0.1:9/hook/s3cret-value", Err: (*net.OpError)(nil)}
	var got error
	assert.NotPanics(t, func() { got = sc.Error(ue) })
	if got != nil {
		assert.NotContains(t, got.Error(), "s3cret-value")
	}
}
