package httpx

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pruneAt is the bucket count past which full buckets are dropped. A full
// bucket behaves exactly like a new one, so dropping it changes nothing but
// memory; per-channel keys would otherwise grow the map without end.
const pruneAt = 1024

// bucketID names one token bucket: the index of its Limit, plus the limit
// key when the Limit is per key.
type bucketID struct {
	limit int
	key   string
}

// limiterSet holds the token buckets of one transport. It reserves tokens
// at an explicit time rather than calling rate.Limiter.Wait, so the clock
// and the sleep stay injectable and the wait can be checked against the
// caps before it is taken.
type limiterSet struct {
	limits  []Limit
	mu      sync.Mutex
	buckets map[bucketID]*rate.Limiter
}

func newLimiterSet(limits []Limit) *limiterSet {
	s := &limiterSet{buckets: map[bucketID]*rate.Limiter{}}
	for _, l := range limits {
		if l.Every > 0 {
			l.Methods = append([]string(nil), l.Methods...)
			s.limits = append(s.limits, l)
		}
	}
	return s
}

// reservation is the tokens one attempt holds, and how long it must wait
// before it may use them.
type reservation struct {
	held  []*rate.Reservation
	delay time.Duration
	at    time.Time // the time the tokens were taken for
}

// cancel gives the tokens back, for an attempt that will not be sent, at
// now or at the time they were taken for, whichever is later: given back
// before it, the bucket would count the time up to it as refilled (found
// in review: a write held back by a GitHub wait then let the next write
// leave before the interval).
func (r reservation) cancel(now time.Time) {
	if now.Before(r.at) {
		now = r.at
	}
	for _, h := range r.held {
		h.CancelAt(now)
	}
}

// reserve takes a token from every bucket that applies to the request. The
// attempt waits for the slowest of them.
func (s *limiterSet) reserve(method, key string, now time.Time) reservation {
	res := reservation{at: now}
	if len(s.limits) == 0 {
		return res
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.limits {
		if !l.matches(method, key) {
			continue
		}
		id := bucketID{limit: i}
		if l.PerKey {
			id.key = key
		}
		lim := s.buckets[id]
		if lim == nil {
			s.prune(now)
			lim = rate.NewLimiter(rate.Every(l.Every), l.burst())
			s.buckets[id] = lim
		}
		// Burst is at least 1, so a reservation of one token is always OK.
		r := lim.ReserveN(now, 1)
		res.held = append(res.held, r)
		res.delay = max(res.delay, r.DelayFrom(now))
	}
	return res
}

// prune drops full buckets once there are many. Callers hold s.mu.
func (s *limiterSet) prune(now time.Time) {
	if len(s.buckets) < pruneAt {
		return
	}
	for id, lim := range s.buckets {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(s.buckets, id)
		}
	}
}

// size is the number of buckets held, for tests.
func (s *limiterSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buckets)
}
