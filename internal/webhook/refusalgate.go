package webhook

import (
	"context"
	"net"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// Requests refused before their signature checked out (401, 413, a body cut
// short) need no secret to send, so they are audited one by one only up to
// a pace: RefusalAuditBurst at once, then RefusalAuditRate a second per
// provider. Beyond it, the refusals of each provider are counted and one
// summary record per RefusalSummaryEvery says how many there were, when,
// and from which addresses: a flood of junk cannot grow the append-only
// audit log (or the disk under it) by a record per request, and is still
// explained. Verified deliveries are never held back.
const (
	RefusalAuditRate    = 10
	RefusalAuditBurst   = 100
	RefusalSummaryEvery = time.Second
	// summaryEntries caps the addresses, and the actions, a summary
	// names, the busiest first.
	summaryEntries = 16
)

// RefusalsNotRecorded is the action of the summary record of refusals not
// audited one by one.
const RefusalsNotRecorded = "webhook.refusals_not_recorded"

// refusalGate paces the audit records of unauthenticated refusals.
type refusalGate struct {
	// now is the limiter's clock: time.Now, whose monotonic reading a
	// step of the wall clock does not move back (not Options.Now, which
	// may be pinned or stepped: the pace would not refill). Tests set it.
	now   func() time.Time
	every time.Duration
	write func(audit.Record) // appends a summary record
	// writing counts the summaries a timer is writing, so that close
	// returns only once they are in the log.
	writing sync.WaitGroup

	mu      sync.Mutex
	lims    map[string]*rate.Limiter // per provider
	pending map[string]*heldBack     // per provider, refusals not yet summarised
	closed  bool
}

// heldBack counts one provider's refusals not audited one by one.
type heldBack struct {
	n          int
	from, to   time.Time
	addrs      map[string]int // per remote IP
	otherAddrs int            // refusals from addresses beyond the map's cap
	// actions counts per action (webhook.<event>, the event named by an
	// unverified header, or webhook.unverified); the sender picks the
	// names, so the map is capped as addrs is.
	actions      map[string]int
	otherActions int
	timer        *time.Timer
}

func newRefusalGate(write func(audit.Record)) *refusalGate {
	return &refusalGate{now: time.Now, every: RefusalSummaryEvery, write: write,
		lims: map[string]*rate.Limiter{}, pending: map[string]*heldBack{}}
}

// admit reports whether the refusal of a request from remoteAddr, audited
// as action, may have a record of its own; if not, it is counted for the
// provider's next summary.
func (g *refusalGate) admit(provider, action, remoteAddr string) bool {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	lim := g.lims[provider]
	if lim == nil {
		lim = rate.NewLimiter(RefusalAuditRate, RefusalAuditBurst)
		g.lims[provider] = lim
	}
	if lim.AllowN(now, 1) || g.closed {
		return true
	}
	hb := g.pending[provider]
	if hb == nil {
		hb = &heldBack{from: now, addrs: map[string]int{}, actions: map[string]int{}}
		g.pending[provider] = hb
		hb.timer = time.AfterFunc(g.every, func() { g.flush(provider, hb) })
	}
	hb.n++
	hb.to = now
	hb.otherActions += countCapped(hb.actions, action)
	hb.otherAddrs += countCapped(hb.addrs, remoteIP(remoteAddr))
	return false
}

// countCapped counts one more of k in m, unless m is full (4 summaries'
// worth of names) and k not in it: then it returns 1, for the others.
func countCapped(m map[string]int, k string) int {
	if _, ok := m[k]; ok || len(m) < 4*summaryEntries {
		m[k]++
		return 0
	}
	return 1
}

// flush writes the summary of hb, if it is still the provider's pending
// one.
func (g *refusalGate) flush(provider string, hb *heldBack) {
	g.mu.Lock()
	if g.pending[provider] != hb {
		g.mu.Unlock()
		return
	}
	delete(g.pending, provider)
	rec := hb.record(provider)
	g.writing.Add(1)
	g.mu.Unlock()
	defer g.writing.Done()
	g.write(rec)
}

// close writes every pending summary now; refusals after it are audited
// one by one (the receiver is shutting down).
func (g *refusalGate) close() {
	g.mu.Lock()
	g.closed = true
	var recs []audit.Record
	providers := make([]string, 0, len(g.pending))
	for p := range g.pending {
		providers = append(providers, p)
	}
	sort.Strings(providers)
	for _, p := range providers {
		hb := g.pending[p]
		hb.timer.Stop()
		recs = append(recs, hb.record(p))
		delete(g.pending, p)
	}
	g.mu.Unlock()
	for _, r := range recs {
		g.write(r)
	}
	g.writing.Wait() // a timer's summary taken before the lock above
}

func (hb *heldBack) record(provider string) audit.Record {
	addrs, otherAddrs := busiest(hb.addrs, hb.otherAddrs)
	actions, otherActions := busiest(hb.actions, hb.otherActions)
	details := map[string]any{
		"notRecorded": hb.n,
		"from":        hb.from.UTC().Format(time.RFC3339Nano),
		"to":          hb.to.UTC().Format(time.RFC3339Nano),
		"byAction":    actions,
		"byAddr":      addrs,
	}
	if otherAddrs > 0 {
		details["otherAddrs"] = otherAddrs
	}
	if otherActions > 0 {
		details["otherActions"] = otherActions
	}
	return audit.Record{Actor: "webhook:" + provider, Provider: provider, Action: RefusalsNotRecorded,
		Target: "/webhooks/" + provider, Status: audit.StatusRejected,
		Error: "refused before verification, over the audit pace of unauthenticated refusals " +
			"(each refused like those recorded one by one); counted here",
		Details: details}
}

// busiest returns the summaryEntries largest counts of m, the largest
// first (ties by name), and others plus the counts left out.
func busiest(m map[string]int, others int) (map[string]any, int) {
	type count struct {
		k string
		n int
	}
	list := make([]count, 0, len(m))
	for k, n := range m {
		list = append(list, count{k, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].k < list[j].k
	})
	if len(list) > summaryEntries {
		for _, c := range list[summaryEntries:] {
			others += c.n
		}
		list = list[:summaryEntries]
	}
	out := make(map[string]any, len(list))
	for _, c := range list {
		out[c.k] = c.n
	}
	return out, others
}

// remoteIP is the address part of a request's RemoteAddr (its port varies
// per connection).
func remoteIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// writeSummary appends a gate's summary record without waiting for the
// disk, as writeRefusal does.
func (h *Handler) writeSummary(rec audit.Record) {
	if err := h.writeRefusal(context.Background(), rec); err != nil {
		h.o.Log.Error("audit the summary of refused webhooks", "provider", rec.Provider, "err", err)
	}
}
