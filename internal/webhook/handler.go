package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/config"
	"github.com/saas-mcp/saas-mcp/internal/queue"
)

// Store keeps verified deliveries; queue.Intake is the real one. Accept
// returns once the delivery is durably stored; its receipt is audited
// shortly after (queue.Intake does, with Receipts set to ReceiptAuditor).
type Store interface {
	Accept(ctx context.Context, d queue.NewDelivery) error
}

// Secrets are the signing secrets of each provider; several each, for
// rotation.
type Secrets struct {
	GitHub, Stripe, Slack []config.Secret
}

// Options configure NewHandler.
type Options struct {
	Store   Store      // required
	Audit   audit.Sink // required: a delivery whose receipt cannot be audited is refused
	Secrets Secrets
	// MaxBody returns the body limit of a provider; default
	// config.Webhook{}.MaxBodyFor.
	MaxBody func(provider string) int64
	// Now is the clock for signature timestamps. Default time.Now.
	Now func() time.Time
	// Ready reports whether the store can take deliveries, for /readyz.
	Ready func(context.Context) error
	Log   *slog.Logger
}

// Handler is the webhook receiver's http.Handler.
type Handler struct {
	o        Options
	mux      *http.ServeMux
	draining atomic.Bool
	gate     *refusalGate // paces the records of unauthenticated refusals
}

// provider is one webhook endpoint: how to verify and how to identify.
type provider struct {
	name string
	// check is verify's part that needs no body, run before the body is
	// read: a request that cannot verify (no or malformed signature, a
	// stale timestamp, no secret) is refused without reading up to
	// WEBHOOK_MAX_BODY bytes, and gets no 100 Continue.
	check    func(h http.Header, now time.Time) error
	verify   func(body []byte, h http.Header, now time.Time) error
	identify func(body []byte, h http.Header) (identity, error)
}

// NewHandler returns the receiver: POST /webhooks/{github,stripe,slack},
// GET /healthz and GET /readyz; anything else is 404 (405 for a known path
// with another method).
func NewHandler(o Options) *Handler {
	if o.MaxBody == nil {
		o.MaxBody = config.Webhook{}.MaxBodyFor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.gate = newRefusalGate(h.writeSummary)
	s := o.Secrets
	h.mux.Handle("POST /webhooks/github", h.receive(provider{"github",
		func(hd http.Header, _ time.Time) error { return CheckGitHubHeaders(hd, s.GitHub) },
		func(b []byte, hd http.Header, _ time.Time) error { return VerifyGitHub(b, hd, s.GitHub) }, identifyGitHub}))
	h.mux.Handle("POST /webhooks/stripe", h.receive(provider{"stripe",
		func(hd http.Header, now time.Time) error {
			return CheckStripeHeader(hd.Get(StripeSignatureHeader), s.Stripe, now, StripeTolerance)
		},
		func(b []byte, hd http.Header, now time.Time) error {
			return VerifyStripe(b, hd.Get(StripeSignatureHeader), s.Stripe, now, StripeTolerance)
		}, identifyStripe}))
	h.mux.Handle("POST /webhooks/slack", h.receive(provider{"slack",
		func(hd http.Header, now time.Time) error { return CheckSlackHeaders(hd, s.Slack, now, SlackTolerance) },
		func(b []byte, hd http.Header, now time.Time) error {
			return VerifySlack(b, hd, s.Slack, now, SlackTolerance)
		},
		identifySlack}))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, `{"status":"ok"}`) })
	h.mux.HandleFunc("GET /readyz", h.ready)
	return h
}

// ServeHTTP implements http.Handler. A path that is not in its clean form
// (/webhooks//github, /webhooks/./github) is an unknown path, 404: the
// ServeMux would redirect to the clean one, which a provider does not
// follow, and its delivery would be recorded as failed for a reason that
// is not the receiver's answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != path.Clean(p) {
		http.NotFound(w, r) // as the ServeMux answers any other unknown path
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Drain makes /readyz fail, so a load balancer stops sending before the
// server shuts down.
func (h *Handler) Drain() { h.draining.Store(true) }

// FlushRefusals writes now the summaries of unauthenticated refusals not
// yet audited (see RefusalAuditRate); refusals after it are audited one by
// one. Call it once the server has shut down.
func (h *Handler) FlushRefusals() { h.gate.close() }

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		reply(w, http.StatusServiceUnavailable, `{"status":"draining"}`)
		return
	}
	if h.o.Ready != nil {
		if err := h.o.Ready(r.Context()); err != nil {
			h.o.Log.Warn("not ready", "err", err)
			reply(w, http.StatusServiceUnavailable, `{"status":"unavailable"}`)
			return
		}
	}
	reply(w, http.StatusOK, `{"status":"ready"}`)
}

func (h *Handler) receive(p provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.o.Now()
		limit := h.o.MaxBody(p.name)
		if r.ContentLength <= limit { // a declared size over the limit is 413 below, unread
			if err := p.check(r.Header, start); err != nil {
				h.unverified(w, r, p.name, err)
				return
			}
		}
		body, status, err := readBody(w, r, limit)
		if err != nil {
			why := "body over the limit of " + strconv.FormatInt(limit, 10) + " bytes"
			if status != http.StatusRequestEntityTooLarge {
				why = "body not received in full: " + readFailure(err)
			}
			h.rejected(r.Context(), p.name, r, why)
			reply(w, status, `{"error":"`+http.StatusText(status)+`"}`)
			return
		}
		// Judged at the time the headers arrived, as check was, and as the
		// delivery's received_at says: a slow body must not shrink the
		// timestamp window (found in review: 299 s old at the headers and
		// 2.5 s of body gave 401).
		if err := p.verify(body, r.Header, start); err != nil {
			h.unverified(w, r, p.name, err)
			return
		}
		id, err := p.identify(body, r.Header)
		if err != nil {
			h.malformed(r.Context(), p.name, r, id.d)
			reply(w, http.StatusBadRequest, `{"error":"malformed delivery"}`)
			return
		}
		if id.reply != nil { // Slack's url_verification: answer, store nothing
			rec := audit.Record{Actor: "webhook:" + p.name, Provider: p.name, Action: "webhook." + id.d.EventType,
				Target: id.d.Target, Status: audit.StatusReceived}
			if err := h.o.Audit.Write(context.WithoutCancel(r.Context()), rec); err != nil {
				h.unavailable(w, "audit the url_verification", err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(id.reply)
			return
		}
		id.d.ReceivedAt = start
		// Not the request's context: net/http ends it when the sender
		// half-closes after a complete request, though it still reads the
		// answer. Once handed over, a delivery is stored or refused on its
		// own merits, and the answer says which (a sender that has really
		// gone just does not read it).
		ectx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), enqueueWait)
		err = h.o.Store.Accept(ectx, id.d)
		cancel()
		if err != nil {
			// Not stored, or not known to be: either way the provider
			// retries, and a stored one then enqueues nothing new.
			h.unavailable(w, "store the delivery", err)
			h.refusedVerified(r.Context(), id.d, refusalReason(err))
			return
		}
		// A redelivery of a stored key is answered so too: its record is
		// kept, its receipt says duplicate, and nothing new is enqueued.
		if id.bareAck {
			w.WriteHeader(http.StatusOK) // Slack's acknowledgment of a command or an interaction
			return
		}
		reply(w, http.StatusAccepted, `{"status":"accepted"}`)
	})
}

// unverified refuses a request that failed verification: 401, or 503 when
// no secret is configured (ours to fix; the provider will retry).
func (h *Handler) unverified(w http.ResponseWriter, r *http.Request, provider string, err error) {
	status := http.StatusUnauthorized
	if errors.Is(err, ErrNoSecret) {
		status = http.StatusServiceUnavailable
	}
	h.rejected(r.Context(), provider, r, err.Error())
	reply(w, status, `{"error":"`+err.Error()+`"}`)
}

// readBody reads at most limit bytes. A declared or actual size over the
// limit is 413 without reading further.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, errors.New("body too large")
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	// Memory grows with the bytes that arrive, not with what the headers
	// declare: a sender that declares 25 MiB and sends nothing must not
	// hold 25 MiB per connection before any signature is checked.
	size := int64(bytes.MinRead)
	if r.ContentLength > 0 {
		// MinRead more, or ReadFrom would grow the buffer just to see EOF.
		size = min(r.ContentLength+bytes.MinRead, preallocMax)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(rd)
	body := buf.Bytes()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, err
		}
		return nil, http.StatusBadRequest, err
	}
	return body, 0, nil
}

// enqueueWait bounds the wait for a delivery's record to be written and
// synced (normally a millisecond or two), so a stuck disk, or an index
// stage so far behind that the sync stage waits for it, answers 503 rather
// than hold the sender forever.
const enqueueWait = 30 * time.Second

// preallocMax is the most readBody reserves before the body's bytes come.
const preallocMax = 64 << 10

// rejected audits a request refused before its signature checked out, at
// the gate's pace (see RefusalAuditRate). The event type is the header's
// (GitHub) when it is a plain token; a body that failed verification is
// never parsed.
func (h *Handler) rejected(ctx context.Context, provider string, r *http.Request, why string) {
	event := "unverified"
	if e := r.Header.Get(canonicalGitHubEvent); provider == "github" && safeToken(e) {
		event = e
	}
	if !h.gate.admit(provider, "webhook."+event, r.RemoteAddr) {
		return
	}
	h.refused(ctx, provider, r, "webhook."+event, r.URL.Path, why)
}

// malformed audits a verified delivery that could not be identified. Its
// signature checked out, so the record names what could be read of it (its
// event type, its target) rather than call it unverified (found in review:
// a signed Slack event_callback without event_id was audited as
// webhook.unverified).
func (h *Handler) malformed(ctx context.Context, provider string, r *http.Request, known queue.NewDelivery) {
	action, target := "webhook.malformed", r.URL.Path
	if known.EventType != "" {
		action = "webhook." + known.EventType
	}
	if known.Target != "" {
		target = known.Target
	}
	h.refused(ctx, provider, r, action, target, "verified but malformed: no usable event id or type")
}

// refused appends the "rejected" record of a request refused before
// anything was stored. It is written even when the sender has gone
// (net/http ends the request's context when it half-closes): the refusal
// must be explained either way.
func (h *Handler) refused(ctx context.Context, provider string, r *http.Request, action, target, why string) {
	err := h.writeRefusal(ctx, audit.Record{Actor: "webhook:" + provider, Provider: provider, Action: action,
		Target: target, Status: audit.StatusRejected, Error: why,
		Details: map[string]any{"remoteAddr": r.RemoteAddr}})
	if err != nil {
		h.o.Log.Error("audit a refused webhook", "provider", provider, "action", action, "err", err)
	}
}

// deferredSink is an audit sink that can append a record without waiting
// for its fsync (audit.Writer: synced within milliseconds).
type deferredSink interface {
	WriteDeferred(ctx context.Context, r audit.Record) error
}

// writeRefusal appends the record of a request refused before anything was
// stored (401, 413, 400). Nothing was acted on, so it does not wait for
// the disk: unauthenticated senders, who need no secret to send, must not
// be able to make the receiver fsync once per request (review
// observation). Written even when the sender has gone.
func (h *Handler) writeRefusal(ctx context.Context, rec audit.Record) error {
	ctx = context.WithoutCancel(ctx)
	if d, ok := h.o.Audit.(deferredSink); ok {
		return d.WriteDeferred(ctx, rec)
	}
	return h.o.Audit.Write(ctx, rec)
}

// refusalReason says, for the audit log, what is known of a delivery the
// store refused: it was not stored, or it was stored but not confirmed
// (then it may also be audited received and be processed), or it is not
// known (the wait ran out).
func refusalReason(err error) string {
	switch {
	case errors.Is(err, queue.ErrCommittedUnconfirmed):
		return "answered 503 for the provider to retry: written, but its record could not be synced; " +
			"it may still be stored and processed, and the retry is then a duplicate"
	case errors.Is(err, context.DeadlineExceeded):
		return "answered 503 for the provider to retry: storing did not finish in time; it may have been stored, " +
			"and the retry is then a duplicate"
	}
	return "answered 503 for the provider to retry: not stored"
}

// readFailure names why a body stopped short, in a fixed phrase (never
// the error's text, which could quote what arrived).
func readFailure(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "the sender was too slow (read timeout)"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the connection ended before the declared length"
	}
	return "the connection failed while reading"
}

// refusedVerified audits a verified delivery refused after identification
// (the store failed): it names the delivery's key, so the refusal can be
// matched with the provider's retry. If the audit log is what failed, the
// error log is all there is.
func (h *Handler) refusedVerified(ctx context.Context, d queue.NewDelivery, why string) {
	err := h.o.Audit.Write(context.WithoutCancel(ctx), audit.Record{Actor: "webhook:" + d.Provider, Provider: d.Provider,
		Action: "webhook." + d.EventType, Target: d.Target, IdempotencyKey: d.Key, Status: audit.StatusRejected, Error: why})
	if err != nil {
		h.o.Log.Error("audit a refused webhook", "provider", d.Provider, "key", d.Key, "err", err)
	}
}

func (h *Handler) unavailable(w http.ResponseWriter, what string, err error) {
	h.o.Log.Error("webhook refused: could not "+what, "err", err)
	reply(w, http.StatusServiceUnavailable, `{"error":"temporarily unavailable"}`)
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// ReceiptLog appends audit records at once and makes them durable soon
// after, without the caller waiting for the disk: a crash of the process
// cannot lose an appended record, a power cut can lose the last few.
// audit.Writer is one (WriteBatchDeferred).
type ReceiptLog interface {
	WriteBatchDeferred(ctx context.Context, recs []audit.Record) error
}

// TornReason is the error of the "rejected" record of a delivery that
// recovery made a tombstone.
const TornReason = "its payload was lost in a crash before the delivery was answered (it was never answered 2xx): " +
	"not processed; its key is freed, and the provider's retry is stored as a new delivery"

// ReceiptAuditor returns the queue.IntakeOptions.Receipts that appends one
// "received" record per stored delivery (duplicates included, flagged;
// deliveries rebuilt by recovery flagged "recovered"; a "rejected" record,
// flagged "torn", for each delivery recovery makes a tombstone) just
// before their transaction commits, after they were answered. A failed
// append makes the intake unhealthy (/readyz 503) until one succeeds. It
// does not wait for the audit log's fsync: the delivery itself is kept by
// its synced segment record, and should a crash or power cut lose the
// receipt together with the delivery's SQLite commit, recovery rebuilds the
// delivery and audits it again as recovered.
func ReceiptAuditor(log ReceiptLog) func(context.Context, []queue.Receipt) error {
	return func(ctx context.Context, rs []queue.Receipt) error {
		now := time.Now()
		recs := make([]audit.Record, 0, len(rs))
		for _, r := range rs {
			d := r.Delivery
			if r.Torn {
				recs = append(recs, audit.Record{Actor: "webhook:" + d.Provider, Provider: d.Provider, Action: "webhook." + d.EventType,
					Target: d.Target, IdempotencyKey: d.Key, Status: audit.StatusRejected, Error: TornReason,
					Details: map[string]any{"deliveryId": r.ID, "torn": true}})
				continue
			}
			details := map[string]any{"deliveryId": r.ID, "bytes": r.Bytes, "duplicate": r.Duplicate}
			if r.Recovered {
				details["recovered"] = true
			}
			recs = append(recs, audit.Record{Actor: "webhook:" + d.Provider, Provider: d.Provider, Action: "webhook." + d.EventType,
				Target: d.Target, IdempotencyKey: d.Key, Status: audit.StatusReceived,
				DurationMs: float64(now.Sub(d.ReceivedAt).Microseconds()) / 1000, Details: details})
		}
		if err := log.WriteBatchDeferred(ctx, recs); err != nil {
			return fmt.Errorf("audit receipts: %w", err)
		}
		return nil
	}
}
