package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// The serve/webhooks logger masks secrets in attribute keys and in values
// of every kind, not only strings and errors (found in review: a map or a
// slice was written by the JSON handler untouched; no call site logged one
// with a secret in it yet).
func TestTheLoggerMasksSecretsInEveryAttributeShape(t *testing.T) {
	t.Parallel()
	const tok = "ghp_R3alL00kingT0kenValue1234567890abcd"
	const cfg = "p4Rt9wQmZk2VbX7nLc5JhT8yGd3F" // a configured signing secret, no token shape
	red := redact.New(cfg)
	cases := map[string]func(l *slog.Logger){
		"string (sound)":       func(l *slog.Logger) { l.Info("m", "v", tok+" "+cfg) },
		"error (sound)":        func(l *slog.Logger) { l.Info("m", "err", errors.New(tok+" "+cfg)) },
		"group member (sound)": func(l *slog.Logger) { l.Info("m", slog.Group("g", slog.String("v", tok+" "+cfg))) },
		"map value":            func(l *slog.Logger) { l.Info("m", "headers", map[string][]string{"Authorization": {"Bearer " + tok}}) },
		"string slice":         func(l *slog.Logger) { l.Info("m", "args", []string{cfg}) },
		"attribute key":        func(l *slog.Logger) { l.Info("m", cfg, 1) },
	}
	for name, log := range cases {
		var buf bytes.Buffer
		log(newLogger(&buf, "info", red))
		if strings.Contains(buf.String(), tok) || strings.Contains(buf.String(), cfg) {
			t.Errorf("%s: secret reached stderr: %s", name, strings.TrimSpace(buf.String()))
		}
	}
}
