// Package stripe fetches Stripe events for the recordPaymentEvent tool and
// turns an event, fetched or delivered by webhook, into a payments.Event.
//
// Events keep the API version they were created with; nothing here rejects
// an event for its version. (A webhook handler verifying signatures with
// stripe-go should use webhook.ConstructEventWithOptions with
// IgnoreAPIVersionMismatch, or verify and call ParseEvent.)
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	stripeapi "github.com/stripe/stripe-go/v82"

	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/provider"
	"github.com/saas-mcp/saas-mcp/internal/provider/internal/attempt"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// DefaultBaseURL is Stripe's API.
const DefaultBaseURL = "https://api.stripe.com"

// Client fetches events.
type Client interface {
	// GetEvent fetches event id (evt_...). A failure is a *provider.Error;
	// an unknown id is Status 404, Code "resource_missing".
	GetEvent(ctx context.Context, id string) (payments.Event, error)
}

// Config configures a Client.
type Config struct {
	// BaseURL is the API base, DefaultBaseURL when empty.
	BaseURL string
	Key     config.Secret
	// HTTPClient carries every request (the retrying transport in
	// production); a plain client when nil.
	HTTPClient *http.Client
	// Redactor, if set, also scrubs error text; the client always removes
	// its own key.
	Redactor *redact.Redactor
}

type client struct {
	sc    *stripeapi.Client // nil without a key
	scrub attempt.Scrubber
}

var _ Client = (*client)(nil)

// New returns a Client for cfg. It sends nothing; without a key each call
// fails.
func New(cfg Config) Client {
	c := &client{scrub: attempt.Scrubber{redact.New(cfg.Key.Reveal()), cfg.Redactor}}
	if !cfg.Key.IsSet() {
		return c
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	hc := attempt.WithTransport(cfg.HTTPClient)
	backend := stripeapi.GetBackendWithConfig(stripeapi.APIBackend, &stripeapi.BackendConfig{
		URL:        stripeapi.String(base),
		HTTPClient: hc,
		// The transport owns retries, and the SDK's logger would write
		// outside our slog stream.
		MaxNetworkRetries: stripeapi.Int64(0),
		LeveledLogger:     &stripeapi.LeveledLogger{Level: stripeapi.LevelNull},
	})
	c.sc = stripeapi.NewClient(cfg.Key.Reveal(), stripeapi.WithBackends(&stripeapi.Backends{
		API: backend, Connect: backend, Uploads: backend, MeterEvents: backend,
	}))
	return c
}

// GetEvent fetches the event and parses it with ParseEvent.
func (c *client) GetEvent(ctx context.Context, id string) (payments.Event, error) {
	const op = "retrieve event"
	switch {
	case c.sc == nil:
		return payments.Event{}, errors.New("stripe: no secret key is configured")
	case strings.TrimSpace(id) == "":
		return payments.Event{}, errors.New("stripe: an event id is required")
	}
	ctx, at := attempt.Track(ctx)
	ev, err := c.sc.V1Events.Retrieve(ctx, id, nil)
	if err != nil {
		return payments.Event{}, c.classify(op, at.Status(), err)
	}
	var raw []byte
	if ev.LastResponse != nil {
		raw = ev.LastResponse.RawJSON
	}
	e, err := ParseEvent(raw)
	if err == nil && e.ID != id {
		err = fmt.Errorf("asked for event %s, got %s", id, e.ID)
	}
	if err != nil {
		return payments.Event{}, &provider.Error{Provider: "stripe", Op: op, Status: http.StatusOK,
			Code: "invalid_event", Err: c.scrub.Error(err)}
	}
	return e, nil
}

// classify turns a stripe-go error into a *provider.Error; status is the
// last HTTP status seen, 0 for none. Reading an event changes nothing, so no
// failure is in doubt.
func (c *client) classify(op string, status int, err error) error {
	pe := &provider.Error{Provider: "stripe", Op: op, Status: status}
	var se *stripeapi.Error
	if errors.As(err, &se) {
		if se.HTTPStatusCode != 0 {
			pe.Status = se.HTTPStatusCode
		}
		pe.Code = string(se.Code)
		if pe.Code == "" {
			pe.Code = string(se.Type)
		}
		msg := c.scrub.String(se.Msg)
		switch pe.Status {
		case http.StatusUnauthorized:
			// Say which setting to fix (found in review: Stripe's own
			// message named no variable). Stripe quotes the refused key,
			// masked but for its last characters: whatever its shape (a
			// webhook secret put there by mistake), none of it is kept.
			if head, _, ok := strings.Cut(msg, "provided:"); ok {
				msg = head + "provided: " + redact.Mask
			}
			msg = "STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY_FILE) was refused by Stripe, invalid or revoked: " + msg
		case http.StatusForbidden:
			msg = "STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY_FILE) may not read events (a restricted key needs Events: read): " + msg
		}
		pe.Err = errors.New(msg)
		return pe
	}
	if msg := err.Error(); strings.HasPrefix(msg, undecodable) && pe.Status >= 200 && pe.Status < 300 {
		// stripe-go quotes up to 500 bytes of the body, which for an
		// answered event may hold a customer's name or email, into the tool
		// error and the audit log (review observation): keep the decoder's
		// reason only. (An error page's body, a proxy's 502, is kept: it
		// says what failed.)
		cause := msg
		if i := strings.LastIndex(msg, "'): "); i >= 0 {
			cause = msg[i+len("'): "):]
		}
		pe.Code = "invalid_event"
		pe.Err = errors.New("the answer is not an event this server can read (its body is left out: it may hold customer data): " +
			c.scrub.String(cause))
		return pe
	}
	pe.Err = c.scrub.Error(err)
	return pe
}

// undecodable starts stripe-go's error for an answer it cannot decode:
// "Couldn't deserialize JSON (response status: 200, body sample: '...'): cause".
const undecodable = "Couldn't deserialize JSON"
