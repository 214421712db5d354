package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

type reviewBadMarshal struct{ tok string }

func (r reviewBadMarshal) MarshalJSON() ([]byte, error) {
	return nil, errors.New("cannot encode credential " + r.tok)
}

// An encoder's error text is not logged either: it may quote the value
// (found in review).
//
// A value whose MarshalJSON fails is now left to slog's JSON handler, which
// writes "!ERROR:" and the marshal error's text; that text bypasses
// ReplaceAttr, so it is not redacted (before, the fallback was masked).
func TestAMarshalErrorTextIsRedacted(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value-Zq8wPlmN4rT6yU1o"
	var buf bytes.Buffer
	newLogger(&buf, "info", redact.New(secret)).Info("m", "v", reviewBadMarshal{tok: secret})
	if strings.Contains(buf.String(), secret) {
		t.Errorf("a configured secret reached the log through a marshal error: %s", strings.TrimSpace(buf.String()))
	}
}
