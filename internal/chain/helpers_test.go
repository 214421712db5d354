package chain

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/audit"
	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// memSink is an in-memory audit sink; fail makes every write fail.
type memSink struct {
	mu   sync.Mutex
	recs []audit.Record
	fail error
}

func (s *memSink) Write(_ context.Context, r audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.recs = append(s.recs, r)
	return nil
}

func (s *memSink) statuses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.recs))
	for i, r := range s.recs {
		out[i] = r.Status
	}
	return out
}

// memStore is a small in-memory idempotency.Store with the same outcomes as
// the durable stores (their conformance suite is in internal/store/storetest).
type memStore struct {
	mu   sync.Mutex
	rows map[string]idempotency.Claim
	fail error
}

func newMemStore() *memStore { return &memStore{rows: map[string]idempotency.Claim{}} }

func (s *memStore) Claim(_ context.Context, c idempotency.Claim, now time.Time, alive func(string) bool) (idempotency.Claim, idempotency.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return idempotency.Claim{}, 0, s.fail
	}
	row, ok := s.rows[c.Key]
	if !ok || now.After(row.ExpiresAt) {
		s.rows[c.Key] = c
		return c, idempotency.Acquired, nil
	}
	if row.ArgsHash != c.ArgsHash {
		return row, idempotency.Mismatch, nil
	}
	switch {
	case row.State == idempotency.StateCommitted:
		return row, idempotency.Replay, nil
	case row.State == idempotency.StateClaimed && alive(row.Owner) && now.Before(row.LeaseUntil):
		return row, idempotency.InProgress, nil
	}
	row.Owner, row.State, row.LeaseUntil = c.Owner, idempotency.StateClaimed, c.LeaseUntil
	s.rows[c.Key] = row
	return row, idempotency.Reacquired, nil
}

func (s *memStore) set(key, owner string, fn func(*idempotency.Claim)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, ok := s.rows[key]
	if !ok || row.Owner != owner {
		return idempotency.ErrNotOwner
	}
	fn(&row)
	s.rows[key] = row
	return nil
}

func (s *memStore) Commit(_ context.Context, key, owner string, result json.RawMessage) error {
	return s.set(key, owner, func(c *idempotency.Claim) { c.State, c.Result = idempotency.StateCommitted, result })
}

func (s *memStore) MarkInDoubt(_ context.Context, key, owner string) error {
	return s.set(key, owner, func(c *idempotency.Claim) { c.State = idempotency.StateInDoubt })
}

func (s *memStore) Release(_ context.Context, key, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if row, ok := s.rows[key]; !ok || row.Owner != owner {
		return idempotency.ErrNotOwner
	}
	delete(s.rows, key)
	return nil
}

func (s *memStore) Extend(_ context.Context, key, owner string, until time.Time) error {
	return s.set(key, owner, func(c *idempotency.Claim) { c.LeaseUntil = until })
}

func (s *memStore) InDoubt(context.Context, time.Time, func(string) bool) ([]idempotency.Claim, error) {
	return nil, errors.New("not used")
}

func (s *memStore) Get(_ context.Context, key string) (idempotency.Claim, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.rows[key]
	return c, ok, nil
}

func (s *memStore) Prune(context.Context, time.Time) (int64, error) { return 0, nil }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))
