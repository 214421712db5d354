package worker

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/payments"
	"github.com/saas-mcp/saas-mcp/internal/queue"
	"github.com/saas-mcp/saas-mcp/internal/redact"
)

// Deps are what the worker needs.
type Deps struct {
	DB     *queue.DB
	Audit  audit.Sink
	Ledger payments.Ledger
	// Env is INTEGRATION_ENV: sandbox refuses live-mode Stripe events, live
	// refuses test-mode ones, as the recordPaymentEvent tool does.
	Env string
	// MaxAttempts is WEBHOOK_MAX_ATTEMPTS: attempts before a dead letter.
	MaxAttempts int
	// RetryBase and RetryCap shape the backoff: full jitter over
	// base*2^(attempt-1), capped. Defaults 1s and 10m.
	RetryBase, RetryCap time.Duration
	Now                 func() time.Time
	// Rand returns a number in [0, 1) for the jitter. Default math/rand/v2.
	Rand     func() float64
	Log      *slog.Logger
	Redactor *redact.Redactor
	// Busy, when set, reports whether the receiver is taking in deliveries
	// right now (queue.Intake.Busy). A job then waits for a moment when it
	// is not, or for its turn at BusyRate: answering providers comes
	// before processing, and both queue for the one SQLite writer and the
	// same cores.
	Busy func() bool
	// BusyRate is how many deliveries a second the worker still processes
	// while the receiver is never idle, shared by all its jobs whatever
	// their size (a batch of up to queue.MaxIDsPerJob, a replay or a retry
	// of one): a job of n deliveries waits for the receiver's next idle
	// moment or for n deliveries' turn at this pace, whichever comes first.
	// Default 640. Below saturation the receiver has idle moments every few
	// hundred microseconds and the wait ends at the first. (A job waiting
	// up to 20 ms, then up to 100 ms, whatever its size: at 20 ms the
	// worker took about a third of a 2-core machine's CPU from a receiver
	// saturated at c=16 (wrk; 8.9k to 10.2k 2xx/s, 126 to 149 us of CPU a
	// delivery), at 100 to 500 ms next to none (11.5k to 12.1k 2xx/s, 101
	// to 107 us; 10.4k to 12.5k with no worker); but a job of one delivery
	// waited as long as one of 16, so replays and retries crawled at 40 a
	// second with 4 workers (found in review).)
	BusyRate float64
}

// Worker runs webhook jobs. Register adds its River workers.
type Worker struct {
	d Deps
	// busyPace hands out the deliveries' turns at BusyRate while the
	// receiver is busy (see yield).
	busyPace *pace
}

// New returns a Worker with defaults filled in.
func New(d Deps) *Worker {
	if d.MaxAttempts < 1 {
		d.MaxAttempts = 1
	}
	if d.RetryBase <= 0 {
		d.RetryBase = time.Second
	}
	if d.RetryCap <= 0 {
		d.RetryCap = 10 * time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Float64
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.BusyRate <= 0 {
		d.BusyRate = 640
	}
	// A burst of one full job: a batch may take its turn at once.
	return &Worker{d: d, busyPace: newPace(d.BusyRate, queue.MaxIDsPerJob)}
}

// pace hands out deliveries' turns at a steady rate, with a burst after a
// quiet spell, and takes back exactly the turns a job gives back. Not
// golang.org/x/time/rate: a Reservation's Cancel restores only the tokens
// that reservations made after it have not taken, so jobs that gave their
// turns back in any order but the reverse of taking them lost them, and the
// pace ran into debt for deliveries that had run while the receiver was
// idle (found in review: after 40 idle flickers of 4 jobs, the next
// delivery waited 2.5 s for its turn).
type pace struct {
	mu    sync.Mutex
	per   time.Duration // one delivery's turn
	burst time.Duration // the turns that may be taken at once after a quiet spell
	next  time.Time     // when the turns taken so far have all come
}

func newPace(perSecond float64, burst int) *pace {
	per := time.Duration(float64(time.Second) / perSecond)
	per = min(max(per, time.Nanosecond), 24*time.Hour)
	return &pace{per: per, burst: time.Duration(burst) * per}
}

// take takes n deliveries' turns and returns when they have come (not
// after now: at once).
func (p *pace) take(now time.Time, n int) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.next
	if floor := now.Add(-p.burst); start.Before(floor) {
		start = floor
	}
	p.next = start.Add(time.Duration(n) * p.per)
	return p.next
}

// giveBack returns n turns taken and not used: the turns taken after them
// keep their time, and the next ones come that much sooner.
func (p *pace) giveBack(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = p.next.Add(-time.Duration(n) * p.per)
}

// yield waits while the receiver is busy, before a job of n deliveries
// runs, until its turn at BusyRate (see Deps.Busy). A turn not used (the
// receiver fell idle first, or ctx ended) is given back.
func (w *Worker) yield(ctx context.Context, n int) {
	if w.d.Busy == nil || !w.d.Busy() {
		return
	}
	n = min(max(n, 1), queue.MaxIDsPerJob)
	wait := time.Until(w.busyPace.take(time.Now(), n))
	if wait <= 0 {
		return
	}
	limit := time.NewTimer(wait)
	defer limit.Stop()
	poll := time.NewTicker(250 * time.Microsecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			w.busyPace.giveBack(n)
			return
		case <-limit.C:
			return
		case <-poll.C:
			if !w.d.Busy() {
				w.busyPace.giveBack(n)
				return
			}
		}
	}
}

// Register adds the batch and single-delivery workers to ws.
func (w *Worker) Register(ws *river.Workers) {
	river.AddWorker(ws, &batchWorker{w: w})
	river.AddWorker(ws, &deliveryWorker{w: w})
}

// Backoff is the wait before attempt+1 after attempt failed: full jitter
// over RetryBase*2^(attempt-1), at most RetryCap.
func (w *Worker) Backoff(attempt int) time.Duration {
	ceil := float64(w.d.RetryBase) * math.Pow(2, float64(max(attempt, 1)-1))
	ceil = math.Min(ceil, float64(w.d.RetryCap))
	return time.Duration(w.d.Rand() * ceil)
}

// permanentError is a failure no retry can fix: the delivery is
// dead-lettered at once.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &permanentError{err} }

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// StatusStale is the audit status of a Stripe event older than one already
// applied to its object.
const StatusStale = audit.StatusStale

// auditWrite writes records and returns once they are durable, with one
// fsync for all of them when the sink allows it.
func (w *Worker) auditWrite(ctx context.Context, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return audit.WriteAll(ctx, w.d.Audit, recs)
}

// record is the audit record of one step of a delivery.
func (w *Worker) record(d queue.Delivery, status, target string, attempt int, started time.Time, details map[string]any) audit.Record {
	if target == "" {
		target = d.Target
	}
	if details == nil {
		details = map[string]any{}
	}
	details["deliveryId"] = d.ID
	return audit.Record{
		Actor: "webhook-worker", Provider: d.Provider, Action: "webhook." + d.EventType, Target: target,
		IdempotencyKey: d.Key, Status: status, Attempts: attempt,
		DurationMs: float64(w.d.Now().Sub(started).Microseconds()) / 1000, Details: details,
	}
}
