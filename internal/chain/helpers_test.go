package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
// the durable stores (their conformance suite is in internal/store/storetest):
// Claim decides with idempotency.Resolve, as they do, and the owner-guarded
// writes have the guards of internal/store/sqlite/keys.go's statements, so a
// chain test cannot pass on an outcome no real store gives.
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
	var current *idempotency.Claim
	if row, ok := s.rows[c.Key]; ok {
		current = &row
	}
	row, out := idempotency.Resolve(current, c, now, alive)
	if out == idempotency.Acquired || out == idempotency.Reacquired {
		s.rows[c.Key] = row
	}
	return row, out, nil
}

// set applies fn to key's row when owner holds it in one of states (any
// state when none are given), as an UPDATE ... WHERE key = ? AND owner = ?
// AND state IN (...) does; otherwise, like a statement that changed no row,
// it answers ErrNotOwner.
func (s *memStore) set(what, key, owner string, fn func(*idempotency.Claim), states ...idempotency.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, ok := s.rows[key]
	if !ok || row.Owner != owner || (len(states) > 0 && !slices.Contains(states, row.State)) {
		return fmt.Errorf("%s %s: %w", what, key, idempotency.ErrNotOwner)
	}
	if fn == nil {
		delete(s.rows, key)
		return nil
	}
	fn(&row)
	s.rows[key] = row
	return nil
}

func (s *memStore) Commit(_ context.Context, key, owner string, result json.RawMessage) error {
	return s.set("commit", key, owner, func(c *idempotency.Claim) { c.State, c.Result = idempotency.StateCommitted, result })
}

func (s *memStore) MarkInDoubt(_ context.Context, key, owner string) error {
	return s.set("mark in doubt", key, owner, func(c *idempotency.Claim) { c.State = idempotency.StateInDoubt },
		idempotency.StateClaimed, idempotency.StateInDoubt)
}

// Release deletes the row (set with a nil fn).
func (s *memStore) Release(_ context.Context, key, owner string) error {
	return s.set("release", key, owner, nil, idempotency.StateClaimed, idempotency.StateInDoubt)
}

// Restore puts old back in place of owner's claim, in doubt.
func (s *memStore) Restore(_ context.Context, owner string, old idempotency.Claim) error {
	return s.set("restore", old.Key, owner, func(c *idempotency.Claim) {
		*c = old
		c.State, c.Result, c.ReplacedInDoubt = idempotency.StateInDoubt, nil, nil
	}, idempotency.StateClaimed, idempotency.StateInDoubt)
}

func (s *memStore) Extend(_ context.Context, key, owner string, until time.Time) error {
	return s.set("extend", key, owner, func(c *idempotency.Claim) { c.LeaseUntil = until }, idempotency.StateClaimed)
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
