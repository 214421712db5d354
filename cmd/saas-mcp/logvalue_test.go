package main

import (
	"bytes"

	"strings"
	"testing"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

type reviewReq struct {
	Header map[string]string
	Body   func()
}

// A logged value JSON cannot encode (a func, a chan field) is left to the
// JSON handler, which writes an error in its place, not the value (found
// in review: the redaction's fallback printed it whole with fmt.Sprint).
func TestALoggedValueJSONCannotEncodeIsNotPrinted(t *testing.T) {
	t.Parallel()
	secrets := []string{
		`p4Rt9wQmZk2&VbX7nLc5JhT8`,
		`p4Rt9wQmZk2<VbX7nLc5JhT8`,
		`p4Rt9wQmZk2"VbX7nLc5JhT8`,
		`p4Rt9wQmZk2\VbX7nLc5JhT8`,
		"p4Rt9wQmZk2\u2028VbX7nLc5JhT8",
		"p4Rt9wQmZk2\x01VbX7nLc5JhT8",
	}
	for _, s := range secrets {
		red := redact.New(s)
		for name, v := range map[string]any{
			"map":   map[string]string{"k": s},
			"slice": []string{s},
		} {
			var buf bytes.Buffer
			newLogger(&buf, "info", red).Info("m", "v", v)
			out := buf.String()
			if strings.Contains(out, s) || strings.Contains(out, s[:11]+s[12:13]) && strings.Contains(out, "VbX7nLc5JhT8") {
				t.Errorf("%q in a %s reached the log: %s", s, name, strings.TrimSpace(out))
			}
		}
	}
	// Not marshalable: fmt.Sprint of the struct, with a password no token shape.
	const pw = "hunter2-basic-auth-pw"
	var buf bytes.Buffer
	newLogger(&buf, "info", redact.New()).Info("m", "req", reviewReq{Header: map[string]string{"Authorization": "Basic " + pw}, Body: func() {}})
	if strings.Contains(buf.String(), pw) {
		t.Errorf("a value the JSON handler could not encode is now written with fmt.Sprint: %s", strings.TrimSpace(buf.String()))
	}
}
