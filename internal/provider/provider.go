// Package provider holds what the Slack, GitHub and Stripe clients share: the
// classification of a failed call, which decides whether the effect may have
// happened (in doubt) or certainly did not (safe to send again).
package provider

import (
	"errors"
	"fmt"
)

// Error is a failed provider call, classified.
type Error struct {
	Provider string // "slack", "github", "stripe"
	Op       string // "chat.postMessage", "create issue", ...
	Status   int    // HTTP status, 0 when there was no response
	Code     string // the provider's error code, e.g. "channel_not_found"
	// InDoubt is true when the request may have reached the provider and taken
	// effect: a 5xx to a POST, a timeout or a connection closed after sending.
	InDoubt bool
	Err     error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s", e.Provider, e.Op)
	if e.Status != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.InDoubt {
		msg += " (the request may have taken effect)"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// InDoubt reports whether err says the effect may have happened.
func InDoubt(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.InDoubt
}

// NoEffect reports whether err is a classified provider failure that
// certainly had no effect: the request never left, or the provider refused
// it. A call cancelled while it waited for its turn (a pace or a
// Retry-After) fails so, and may be sent again.
func NoEffect(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && !pe.InDoubt
}
