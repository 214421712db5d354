package fakesaas

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// StripeAPIVersion is the api_version the event builders stamp. It is older
// than the SDK's pinned version on purpose: events keep the version they were
// created with, and clients must not reject them for it.
const StripeAPIVersion = "2024-06-20"

type stripeState struct {
	events   map[string]storedEvent
	requests int
}

type storedEvent struct {
	raw      []byte
	livemode bool
}

func (st *stripeState) init() { st.events = map[string]storedEvent{} }

// AddStripeEvent makes an event retrievable with GET /v1/events/{id}. A zero
// Created becomes the server clock's now.
func (s *Server) AddStripeEvent(e StripeEvent) {
	if e.Created.IsZero() {
		e.Created = s.cfg.now()
	}
	if err := s.AddStripeEventJSON(e.JSON()); err != nil {
		panic(fmt.Sprintf("fakesaas: %v", err)) // StripeEvent always has an id
	}
}

// AddStripeEventJSON stores a raw event body as given, for tests of odd or
// hostile payloads. It needs a top-level "id"; "livemode" decides which keys
// see it.
func (s *Server) AddStripeEventJSON(raw []byte) error {
	var head struct {
		ID       string `json:"id"`
		Livemode bool   `json:"livemode"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("stripe event is not JSON: %w", err)
	}
	if head.ID == "" {
		return errors.New("stripe event has no id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stripe.events[head.ID] = storedEvent{raw: slices.Clone(raw), livemode: head.Livemode}
	return nil
}

func stripeError(status int, typ, code, msg, param string) reply {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
		e["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
	}
	if param != "" {
		e["param"] = param
	}
	return jsonReply(status, map[string]any{"error": e})
}

// stripeAuth returns whether the key is a live-mode key, or the 401 answer.
// The key comes as a bearer token or, as curl -u sends it, a basic-auth user.
func (s *Server) stripeAuth(r *http.Request) (live bool, fail *reply) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if user, _, ok := r.BasicAuth(); ok {
		key = user
	}
	if key == "" {
		rep := stripeError(http.StatusUnauthorized, "invalid_request_error", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header.", "")
		return false, &rep
	}
	if !slices.Contains(s.cfg.stripeKeys, key) {
		rep := stripeError(http.StatusUnauthorized, "invalid_request_error", "",
			"Invalid API Key provided: "+maskKey(key), "")
		return false, &rep
	}
	return strings.Contains(key, "_live_"), nil
}

// maskKey shows a key as Stripe does in its errors: prefix and last four.
func maskKey(key string) string {
	if len(key) <= 12 {
		return strings.Repeat("*", len(key))
	}
	prefix := key[:strings.LastIndex(key[:8], "_")+1]
	return prefix + "****" + key[len(key)-4:]
}

// stripeGetEvent is GET /v1/events/{id}. Every answer carries a Request-Id,
// as Stripe's do.
func (s *Server) stripeGetEvent(r *http.Request) reply {
	rep := s.stripeEvent(r)
	s.mu.Lock()
	s.stripe.requests++
	rep.header.Set("Request-Id", fmt.Sprintf("req_fake%08d", s.stripe.requests))
	s.mu.Unlock()
	rep.header.Set("Stripe-Version", StripeAPIVersion)
	return rep
}

func (s *Server) stripeEvent(r *http.Request) reply {
	live, fail := s.stripeAuth(r)
	if fail != nil {
		return *fail
	}
	id := r.PathValue("id")
	s.mu.Lock()
	e, ok := s.stripe.events[id]
	s.mu.Unlock()
	if !ok || e.livemode != live {
		// An object of the other mode does not exist for this key.
		return stripeError(http.StatusNotFound, "invalid_request_error", "resource_missing",
			fmt.Sprintf("No such event: '%s'", id), "id")
	}
	return reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: e.raw}
}
