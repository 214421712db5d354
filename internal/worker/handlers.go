package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
	"github.com/saas-mcp/saas-mcp/internal/provider/stripe"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// result is what a handler did with a delivery.
type result struct {
	status  string // audit status: processed, recorded, stale, rejected
	target  string
	details map[string]any
}

// handle runs the delivery's handler. A returned error is retried unless it
// is Permanent.
func (w *Worker) handle(ctx context.Context, d queue.Delivery) (result, error) {
	switch d.Provider {
	case "stripe":
		return w.handleStripe(ctx, d)
	case "github":
		return handleGitHub(d)
	case "slack":
		return handleSlack(d)
	}
	return result{status: audit.StatusRecorded}, nil
}

// otherStripeEvent is the outcome of a Stripe event of a type no handler
// takes: recorded and acknowledged, unless its livemode contradicts
// INTEGRATION_ENV, in which case it is rejected as a handled event is, so
// that a sandbox's audit trail never records a live event, nor the
// reverse. Only livemode is read; an event that has none is recorded.
func (w *Worker) otherStripeEvent(d queue.Delivery) result {
	if r, mixed := w.otherMode(d); mixed {
		return r
	}
	return result{status: audit.StatusRecorded}
}

// otherMode reads only an event's id and livemode: a live event in sandbox
// (or the reverse) is rejected whatever the rest of it holds, before any
// of it is parsed (found in review: a live payment event whose object
// could not be read was dead-lettered, to be replayed, not rejected).
func (w *Worker) otherMode(d queue.Delivery) (result, bool) {
	var head struct {
		ID       string `json:"id"`
		Livemode *bool  `json:"livemode"`
	}
	if json.Unmarshal(d.Payload, &head) == nil && head.Livemode != nil {
		if err := config.CheckLivemode(w.d.Env, *head.Livemode, "event "+head.ID); err != nil {
			return result{status: audit.StatusRejected, details: map[string]any{"eventId": head.ID, "reason": err.Error()}}, true
		}
	}
	return result{}, false
}

// handleStripe records payment events in the ledger, through the same
// Ledger.Record as the recordPaymentEvent tool. An event the ledger already
// holds (a replay, a redelivery after a crash, a webhook after the tool)
// takes the outcome the ledger gave it first: a stale event stays stale.
// The ledger row names the delivery that booked it (payments.ByDelivery), so
// a run of a delivery whose earlier run booked the event, then died before
// its audit record (or a replay of it), says the delivery booked it
// (earlierAttempt), not that someone else had: the log still shows the
// booking.
func (w *Worker) handleStripe(ctx context.Context, d queue.Delivery) (result, error) {
	switch d.EventType {
	// An unpaid completed session (a delayed payment method) is recorded
	// with 0 paid; its money comes with async_payment_succeeded.
	case "checkout.session.completed", "checkout.session.async_payment_succeeded", "payment_intent.succeeded":
	default:
		return w.otherStripeEvent(d), nil
	}
	if w.d.Ledger == nil {
		return result{}, fmt.Errorf("no payments ledger configured")
	}
	ev, err := stripe.ParseEvent(d.Payload)
	if err != nil {
		if r, mixed := w.otherMode(d); mixed {
			return r, nil // rejected, not dead-lettered: see otherMode
		}
		return result{}, Permanent(fmt.Errorf("parse Stripe event: %w", err))
	}
	details := map[string]any{"eventId": ev.ID, "customer": ev.Customer, "amount": ev.Amount, "currency": ev.Currency}
	if err := config.CheckLivemode(w.d.Env, ev.Livemode, "event "+ev.ID); err != nil {
		details["reason"] = err.Error()
		return result{status: audit.StatusRejected, target: ev.ObjectID, details: details}, nil
	}
	ev.By = payments.ByDelivery(d.Key, d.ReceivedAt)
	out, err := w.d.Ledger.Record(ctx, ev)
	if err != nil {
		return result{}, fmt.Errorf("record Stripe event %s in the ledger: %w", ev.ID, err)
	}
	details["recorded"], details["duplicate"] = out.Recorded, out.Duplicate
	if out.Earlier {
		details["earlierAttempt"] = true
	}
	status := audit.StatusProcessed
	if out.Stale {
		status = StatusStale
	}
	return result{status: status, target: ev.ObjectID, details: details}, nil
}

// githubPayload is the part of a GitHub event the audit record names.
type githubPayload struct {
	Action     string `json:"action"`
	Ref        string `json:"ref"`
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Organization *struct {
		Login string `json:"login"`
	} `json:"organization"`
	Sender *struct {
		Login string `json:"login"`
	} `json:"sender"`
	Issue *struct {
		Number int `json:"number"`
	} `json:"issue"`
	Release *struct {
		TagName string `json:"tag_name"`
	} `json:"release"`
}

func handleGitHub(d queue.Delivery) (result, error) {
	raw := d.Payload
	if d.ContentType == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return result{}, Permanent(fmt.Errorf("parse GitHub form payload: %w", err))
		}
		if !form.Has("payload") {
			return result{}, Permanent(fmt.Errorf("GitHub form body has no payload field (a hook set to application/x-www-form-urlencoded sends the JSON there; was Content-Type wrong?)"))
		}
		raw = []byte(form.Get("payload"))
	}
	p, err := parseGitHub(raw)
	if err != nil {
		return result{}, Permanent(fmt.Errorf("parse GitHub %s payload: %w", d.EventType, err))
	}
	res := result{status: audit.StatusRecorded, details: map[string]any{}}
	switch {
	case p.Repository != nil && p.Repository.FullName != "":
		res.target = p.Repository.FullName
	case p.Organization != nil:
		res.target = p.Organization.Login
	}
	if p.Action != "" {
		res.details["action"] = p.Action
	}
	if p.Sender != nil {
		res.details["sender"] = p.Sender.Login
	}
	switch d.EventType {
	case "issues", "issue_comment":
		res.status = audit.StatusProcessed
		if p.Issue != nil {
			res.details["issue"] = p.Issue.Number
		}
	case "push":
		res.status = audit.StatusProcessed
		res.details["ref"] = p.Ref
	case "release":
		res.status = audit.StatusProcessed
		if p.Release != nil {
			res.details["tag"] = p.Release.TagName
		}
	}
	return res, nil
}

func handleSlack(d queue.Delivery) (result, error) {
	if d.EventType != "event_callback" {
		return result{status: audit.StatusRecorded}, nil
	}
	var p struct {
		TeamID string `json:"team_id"`
		Event  struct {
			Type string `json:"type"`
			// An ID, or for some events the whole object
			// (channel_created, team_join, user_change): see FieldID.
			Channel json.RawMessage `json:"channel"`
			User    json.RawMessage `json:"user"`
		} `json:"event"`
	}
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		return result{}, Permanent(fmt.Errorf("parse Slack event_callback: %w", err))
	}
	return result{
		status:  audit.StatusProcessed,
		target:  strings.Trim(p.TeamID+"/"+slack.FieldID(p.Event.Channel), "/"),
		details: map[string]any{"event": p.Event.Type, "user": slack.FieldID(p.Event.User)},
	}, nil
}
