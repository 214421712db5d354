package config

import "log/slog"

// Secret holds a credential. It prints and logs as [REDACTED] so that a
// secret passed to fmt or slog by mistake never shows; Reveal is the one
// way to read it, and only provider clients call it.
type Secret struct{ value string }

// NewSecret wraps a credential value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the credential has a value.
func (s Secret) IsSet() bool { return s.value != "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return "[REDACTED]" }

// GoString implements fmt.GoStringer, so %#v hides the value too.
func (s Secret) GoString() string { return "[REDACTED]" }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// MarshalText keeps the value out of JSON and any text encoding.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }
