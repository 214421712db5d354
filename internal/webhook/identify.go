package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/saas-mcp/saas-mcp/internal/provider/slack"
	"github.com/saas-mcp/saas-mcp/internal/queue"
	"github.com/saas-mcp/saas-mcp/internal/safetext"
)

// errMalformed is a verified body or header set we cannot identify.
var errMalformed = errors.New("malformed delivery")

// identity is what the receiver learns about a verified delivery before
// storing it. reply, when set, is answered instead of storing (Slack's
// url_verification challenge). With errMalformed, d holds what could be
// read (an event type that is a plain token, a target), for the refusal's
// audit record.
type identity struct {
	d     queue.NewDelivery
	reply []byte
	// bareAck: once stored, the delivery is answered 200 with an empty
	// body, not 202 with a JSON one. Slack's slash commands and
	// interactive posts want exactly that as their acknowledgment: a body
	// would be taken for a message to show the user (and a status other
	// than 200 for a failure), where the Events API takes any 2xx.
	bareAck bool
}

// The headers read from every GitHub delivery, in their canonical form:
// Header.Get canonicalizes its key at each call, which for these names as
// GitHub spells them ("X-GitHub-Event") made a new string every time.
var (
	canonicalGitHubEvent    = textproto.CanonicalMIMEHeaderKey(GitHubEventHeader)
	canonicalGitHubDelivery = textproto.CanonicalMIMEHeaderKey(GitHubDeliveryHeader)
	canonicalGitHubHookID   = textproto.CanonicalMIMEHeaderKey(GitHubHookIDHeader)
	canonicalTargetType     = textproto.CanonicalMIMEHeaderKey("X-GitHub-Hook-Installation-Target-Type")
	canonicalTargetID       = textproto.CanonicalMIMEHeaderKey("X-GitHub-Hook-Installation-Target-ID")
)

// identifyGitHub reads the delivery from GitHub's headers only: the body is
// not parsed on the hot path. The key is hook id plus delivery guid, since
// the guid of a redelivery is the original's and one payload can reach us
// through several hooks.
func identifyGitHub(body []byte, h http.Header) (identity, error) {
	event, guid := h.Get(canonicalGitHubEvent), h.Get(canonicalGitHubDelivery)
	if !safeToken(event) {
		return identity{d: queue.NewDelivery{Provider: "github"}}, errMalformed
	}
	hook := h.Get(canonicalGitHubHookID)
	target := ""
	if hook != "" && keyPart(hook) {
		target = "hook:" + hook
	}
	if typ, id := h.Get(canonicalTargetType), h.Get(canonicalTargetID); safeToken(typ) && safeToken(id) {
		target = typ + ":" + id
	}
	if !keyPart(guid) || hook != "" && !keyPart(hook) {
		// The refusal's record names what could be read (found in a
		// walkthrough: a delivery without X-GitHub-Delivery named only
		// the path, though its hook was known).
		return identity{d: queue.NewDelivery{Provider: "github", EventType: event, Target: target}}, errMalformed
	}
	if target == "" {
		target = "hook:" // as before: a delivery without a hook id
	}
	return identity{d: queue.NewDelivery{
		Provider: "github", Key: "github:" + hook + ":" + guid, EventType: event, Target: target,
		ContentType: mediaType(h), Payload: body,
	}}, nil
}

// identifyStripe reads the event id, type and object id: the key is the
// event id, which Stripe keeps across its retries. Only the id and type must
// be usable; the rest is the worker's to judge (a verified event that its
// handler cannot read is dead-lettered, not lost). A snapshot event names its
// object in data.object; a thin event (API v2) has no data.object and names
// it in related_object instead.
func identifyStripe(body []byte, h http.Header) (identity, error) {
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Object struct {
				ID string `json:"id"`
			} `json:"object"`
		} `json:"data"`
		RelatedObject struct {
			ID string `json:"id"`
		} `json:"related_object"`
	}
	// One pass. A field of another shape (data, data.object or
	// related_object not an object, an id not a string) is skipped by
	// encoding/json, which reads the rest and reports an UnmarshalTypeError:
	// only the id and type may make a delivery malformed, and they are
	// checked below.
	var typeErr *json.UnmarshalTypeError
	err := json.Unmarshal(body, &ev)
	target := ev.Data.Object.ID
	if target == "" {
		target = ev.RelatedObject.ID
	}
	if (err != nil && !errors.As(err, &typeErr)) || !strings.HasPrefix(ev.ID, "evt_") || !safeToken(ev.ID) || !stripeEventType(ev.Type) {
		known := queue.NewDelivery{Provider: "stripe", Target: safetext.Cut(target, maxField)}
		if stripeEventType(ev.Type) {
			known.EventType = ev.Type
		}
		return identity{d: known}, errMalformed
	}
	return identity{d: queue.NewDelivery{
		Provider: "stripe", Key: "stripe:" + ev.ID, EventType: ev.Type, Target: safetext.Cut(target, maxField),
		ContentType: mediaType(h), Payload: body,
	}}, nil
}

// identifySlack handles the Events API (JSON: url_verification answered at
// once, event_callback keyed by event_id) and form posts (interactivity,
// slash commands), which carry no event id and are keyed by a hash of the
// body, so only an identical retry is a duplicate.
func identifySlack(body []byte, h http.Header) (identity, error) {
	ct := mediaType(h)
	d := queue.NewDelivery{Provider: "slack", ContentType: ct, Payload: body}
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return identity{d: queue.NewDelivery{Provider: "slack"}}, errMalformed
		}
		d.EventType, d.Target = "slash_command", slackTarget(form.Get("team_id"), form.Get("channel_id"))
		if form.Has("payload") {
			d.EventType, d.Target = "interactive", interactiveTarget(form.Get("payload"))
		}
		d.Key = "slack:body:" + bodyHash(body)
		return identity{d: d, bareAck: true}, nil
	}
	var ev struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		EventID   string `json:"event_id"`
		TeamID    string `json:"team_id"`
		Event     struct {
			Type string `json:"type"`
			// A string for most events, an object for some
			// (channel_created, channel_rename, im_created): only the
			// target reads it, so its shape never refuses a delivery.
			Channel json.RawMessage `json:"channel"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || !safeToken(ev.Type) {
		return identity{d: queue.NewDelivery{Provider: "slack"}}, errMalformed
	}
	d.EventType = ev.Type
	switch ev.Type {
	case "url_verification":
		reply, _ := json.Marshal(map[string]string{"challenge": ev.Challenge})
		return identity{d: d, reply: reply}, nil
	case "event_callback":
		d.Target = slackTarget(ev.TeamID, slack.FieldID(ev.Event.Channel))
		if !keyPart(ev.EventID) {
			return identity{d: queue.NewDelivery{Provider: "slack", EventType: d.EventType, Target: d.Target}}, errMalformed
		}
		d.Key = "slack:" + ev.EventID
	default:
		d.Key = "slack:body:" + bodyHash(body)
		d.Target = safetext.Cut(ev.TeamID, maxField)
	}
	return identity{d: d}, nil
}

// interactiveTarget is where an interactive delivery (block_actions,
// view_submission, message_action, shortcut...) happened, read from the JSON
// in its payload field: team/channel like an event_callback's. A message
// action names its channel in channel (an object) or only in
// container.channel_id. A modal (view_submission, view_closed, an action
// inside a view) has no channel: its view id (V...) says which modal it was,
// so the target is team/view. A global shortcut has neither and is named by
// its team alone. As for an event_callback, the payload's shape only decides
// the target and never refuses a verified delivery: a payload that does not
// parse is stored with no target.
func interactiveTarget(payload string) string {
	var p struct {
		Team      json.RawMessage `json:"team"`
		Channel   json.RawMessage `json:"channel"`
		Container struct {
			ChannelID string `json:"channel_id"`
		} `json:"container"`
		View struct {
			ID string `json:"id"`
		} `json:"view"`
	}
	_ = json.Unmarshal([]byte(payload), &p) // a field of another shape is skipped, the rest still read
	where := slack.FieldID(p.Channel)
	if where == "" {
		where = p.Container.ChannelID
	}
	if where == "" {
		where = p.View.ID
	}
	return slackTarget(slack.FieldID(p.Team), where)
}

// slackTarget is a Slack delivery's target, team/place (T0123/C0123), or
// whichever of the two it has, cut to maxField.
func slackTarget(team, place string) string {
	return safetext.Cut(strings.Trim(team+"/"+place, "/"), maxField)
}

func bodyHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func mediaType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || len(mt) > maxField {
		return ""
	}
	return mt
}

// maxField bounds a target taken from a verified body (cut with safetext.Cut): real ones are ids
// (cs_..., T0123/C0123) of a few dozen bytes, and a hostile body must not
// make a record too large to read back (queue.ErrFieldsTooLong).
const maxField = 200

// keyPart is a safeToken without ':', for the parts of a delivery key
// joined by ':': with it, hook "1:2" and guid "3" would make the same key
// as hook "1" and guid "2:3", and the second delivery would be dropped as a
// duplicate of the first. (Real hook ids are numbers, guids UUIDs and Slack
// event ids letters and digits.)
func keyPart(s string) bool { return safeToken(s) && !strings.Contains(s, ":") }

// safeToken accepts the ids and event names providers send: 1 to 200 bytes
// of letters, digits and - _ . : so they can go into keys, audit records and
// logs as they are.
func safeToken(s string) bool { return tokenWith(s, "") }

// stripeEventType is a safeToken that may also hold [ and ]: Stripe's API v2
// thin events name the part of an object that changed in brackets
// (v2.core.account[requirements].updated), and refusing them would make
// Stripe retry for days and then disable the endpoint. Brackets are harmless
// where an event type goes: it is in no key, and audit records, logs (JSON)
// and the dead-letter listing need no escaping for them. Space, quotes, /,
// backslash and control bytes stay refused.
func stripeEventType(s string) bool { return tokenWith(s, "[]") }

// tokenWith is safeToken's rule with the bytes of extra also accepted.
func tokenWith(s, extra string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' ||
			strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
