package stripe_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
)

// An answer stripe-go cannot decode (here an event of an API version whose
// request field is a string) is reported by the decoder's reason, without
// the body sample stripe-go quotes: it may hold a customer's email, and
// the error goes into the tool result and the audit log (review
// observation).
func TestAnUndecodableEventIsReportedWithoutItsBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"evt_1","object":"event","type":"checkout.session.completed","request":"req_1",`+
			`"data":{"object":{"id":"cs_1","object":"checkout.session","customer_email":"private-person@example.com"}}}`)
	}))
	t.Cleanup(srv.Close)
	_, err := stripe.New(stripe.Config{BaseURL: srv.URL, Key: config.NewSecret("sk_test_" + "x1234567890abcdefghijklm")}).GetEvent(t.Context(), "evt_1")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "private-person@example.com")
	assert.Contains(t, err.Error(), "cannot unmarshal")
}
