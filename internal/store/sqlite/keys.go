package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

var _ idempotency.Store = (*Keys)(nil)

// Keys is the idempotency key table. It implements idempotency.Store.
type Keys struct {
	db *DB

	// Hot-path statements, prepared once.
	acquire, selectForClaim, replace, reacquire *sql.Stmt
	commit, markInDoubt, release, extend        *sql.Stmt
	restoreOwned                                *sql.Stmt
	get, listOpen, prune                        *sql.Stmt
}

const keyColumns = `key, tool, args_hash, target, owner, state, result, claimed_at, lease_until, expires_at, via`

// expiredAt is idempotency.Claim.Expired in SQL, for the time bound to
// ?1: a committed row expires at expires_at, a claimed or in-doubt one not
// before its lease ends too, so Prune never deletes, and InDoubt never
// hides, the key of a call that may still be sending.
const expiredAt = `(expires_at <= ?1 AND (state = 'committed' OR lease_until <= ?1))`

func newKeys(ctx context.Context, db *DB) (*Keys, error) {
	w, err := db.w.prepare(ctx,
		// Insert a new key in one statement: the common case never opens an
		// explicit transaction nor reads a row back. A key that exists
		// (expired, in doubt, committed, ...) goes to the transaction below.
		`INSERT INTO idempotency_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, 'claimed', NULL, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING`,
		`SELECT `+keyColumns+` FROM idempotency_keys WHERE key = ?`,
		`INSERT OR REPLACE INTO idempotency_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, 'claimed', NULL, ?, ?, ?, ?)`,
		`UPDATE idempotency_keys SET state = 'claimed', owner = ?, lease_until = ? WHERE key = ?`,
		`UPDATE idempotency_keys SET state = 'committed', result = ? WHERE key = ? AND owner = ?`,
		`UPDATE idempotency_keys SET state = 'in_doubt'
		WHERE key = ? AND owner = ? AND state IN ('claimed', 'in_doubt')`,
		`DELETE FROM idempotency_keys WHERE key = ? AND owner = ? AND state IN ('claimed', 'in_doubt')`,
		`UPDATE idempotency_keys SET lease_until = ? WHERE key = ? AND owner = ? AND state = 'claimed'`,
		`DELETE FROM idempotency_keys WHERE `+expiredAt,
		`UPDATE idempotency_keys SET tool = ?, args_hash = ?, target = ?, owner = ?, state = 'in_doubt', result = NULL,
			claimed_at = ?, lease_until = ?, expires_at = ?, via = ?
		WHERE key = ? AND owner = ? AND state IN ('claimed', 'in_doubt')`,
	)
	if err != nil {
		return nil, err
	}
	r, err := prepare(ctx, db.read,
		`SELECT `+keyColumns+` FROM idempotency_keys WHERE key = ?`,
		`SELECT `+keyColumns+` FROM idempotency_keys
		WHERE state <> 'committed' ORDER BY claimed_at, key`,
	)
	if err != nil {
		_ = closeStmts(w)
		return nil, err
	}
	return &Keys{
		db:      db,
		acquire: w[0], selectForClaim: w[1], replace: w[2], reacquire: w[3],
		commit: w[4], markInDoubt: w[5], release: w[6], extend: w[7], prune: w[8], restoreOwned: w[9],
		get: r[0], listOpen: r[1],
	}, nil
}

func (k *Keys) close() error {
	return closeStmts([]*sql.Stmt{
		k.acquire, k.selectForClaim, k.replace, k.reacquire,
		k.commit, k.markInDoubt, k.release, k.extend, k.prune, k.restoreOwned, k.get, k.listOpen,
	})
}

// Claim takes c.Key or reports who has it; see idempotency.Store. A new key
// costs one statement; any other case one IMMEDIATE transaction,
// in which idempotency.Resolve decides. Either way an Acquired or Reacquired
// claim is synced to disk before Claim returns (with Synchronous FULL).
//
// An expired row is replaced in that transaction, having been read, so the
// claim can say when the row it replaced was in doubt (ReplacedInDoubt).
func (k *Keys) Claim(ctx context.Context, c idempotency.Claim, now time.Time, alive func(owner string) bool) (idempotency.Claim, idempotency.Outcome, error) {
	var (
		row idempotency.Claim
		out idempotency.Outcome
	)
	if err := k.db.w.broken(); err != nil {
		return idempotency.Claim{}, 0, fmt.Errorf("claim %s: %w", c.Key, err)
	}
	err := k.db.w.do(ctx, func(ctx context.Context) error {
		res, err := k.acquire.ExecContext(ctx,
			c.Key, c.Tool, c.ArgsHash, c.Target, c.Owner, nanos(now), nanos(c.LeaseUntil), nanos(c.ExpiresAt), c.Via)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			row = c
			row.State, row.Result, row.ClaimedAt, row.ReplacedInDoubt = idempotency.StateClaimed, nil, now, nil
			out = idempotency.Acquired
			return nil
		}
		return k.db.w.tx(ctx, func() (bool, error) {
			var current *idempotency.Claim
			switch got, err := scanClaim(k.selectForClaim.QueryRowContext(ctx, c.Key)); {
			case err == nil:
				current = &got
			case !errors.Is(err, sql.ErrNoRows):
				return false, fmt.Errorf("read: %w", err)
			}
			row, out = idempotency.Resolve(current, c, now, alive)
			switch out {
			case idempotency.Acquired:
				_, err = k.replace.ExecContext(ctx, row.Key, row.Tool, row.ArgsHash, row.Target, row.Owner,
					nanos(row.ClaimedAt), nanos(row.LeaseUntil), nanos(row.ExpiresAt), row.Via)
			case idempotency.Reacquired:
				_, err = k.reacquire.ExecContext(ctx, row.Owner, nanos(row.LeaseUntil), row.Key)
			default:
				return false, nil // nothing to write
			}
			if err != nil {
				return false, fmt.Errorf("write: %w", err)
			}
			return true, nil
		})
	})
	if err == nil && (out == idempotency.Acquired || out == idempotency.Reacquired) {
		if err = k.db.w.durable(ctx); err != nil {
			// The claim is reported not made, and nothing will be sent
			// under it: take it back, so that it neither answers a retry
			// "in progress" nor is listed in doubt at the next start
			// (found in review). A key taken over from an earlier attempt
			// goes back to in doubt, as that attempt may have acted. Not
			// synced (nothing can be now); a power cut that kept the
			// claim leaves it to a dead owner, in doubt: never a resend.
			// An expired row in doubt that the claim replaced is put back
			// as it was, the only trace of a call that may have acted
			// (found in review: the take-back deleted it).
			uctx := context.WithoutCancel(ctx)
			var uerr error
			switch {
			case out == idempotency.Reacquired:
				uerr = k.MarkInDoubt(uctx, c.Key, c.Owner)
			case row.ReplacedInDoubt != nil:
				uerr = k.Restore(uctx, c.Owner, *row.ReplacedInDoubt)
			default:
				uerr = k.Release(uctx, c.Key, c.Owner)
			}
			if uerr != nil {
				err = errors.Join(err, fmt.Errorf("take the claim back: %w", uerr))
			}
		}
	}
	if err != nil {
		return idempotency.Claim{}, 0, fmt.Errorf("claim %s: %w", c.Key, err)
	}
	return row, out, nil
}

// Restore writes old, the expired row in doubt that owner's claim
// replaced, back in place of that claim, in doubt, as it was (see
// idempotency.Store).
func (k *Keys) Restore(ctx context.Context, owner string, old idempotency.Claim) error {
	return k.ownedUpdate(ctx, "restore", old.Key, k.restoreOwned, old.Tool, old.ArgsHash, old.Target, old.Owner,
		nanos(old.ClaimedAt), nanos(old.LeaseUntil), nanos(old.ExpiresAt), old.Via, old.Key, owner)
}

// Commit stores the result and marks the key committed.
func (k *Keys) Commit(ctx context.Context, key, owner string, result json.RawMessage) error {
	return k.ownedUpdate(ctx, "commit", key, k.commit, []byte(result), key, owner)
}

// MarkInDoubt records that the provider call may have taken effect.
func (k *Keys) MarkInDoubt(ctx context.Context, key, owner string) error {
	return k.ownedUpdate(ctx, "mark in doubt", key, k.markInDoubt, key, owner)
}

// Release deletes a claimed or in-doubt key so that a retry may send again.
func (k *Keys) Release(ctx context.Context, key, owner string) error {
	return k.ownedUpdate(ctx, "release", key, k.release, key, owner)
}

// Extend moves a claimed key's lease forward.
func (k *Keys) Extend(ctx context.Context, key, owner string, leaseUntil time.Time) error {
	return k.ownedUpdate(ctx, "extend", key, k.extend, nanos(leaseUntil), key, owner)
}

// ownedUpdate runs a statement guarded by "AND owner = ?" and turns "no row
// changed" into ErrNotOwner. It does not wait for a sync: see writer.
func (k *Keys) ownedUpdate(ctx context.Context, what, key string, stmt *sql.Stmt, args ...any) error {
	var n int64
	err := k.db.w.do(ctx, func(ctx context.Context) error {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, key, idempotency.ErrNotOwner)
	}
	return nil
}

// InDoubt lists the keys in doubt, expired or not (until pruned), oldest
// claim first; see idempotency.Store.
func (k *Keys) InDoubt(ctx context.Context, now time.Time, alive func(owner string) bool) ([]idempotency.Claim, error) {
	rows, err := k.listOpen.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys in doubt: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []idempotency.Claim
	for rows.Next() {
		c, err := scanClaim(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys in doubt: %w", err)
		}
		if c.InDoubtAt(now, alive) {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys in doubt: %w", err)
	}
	return out, nil
}

// Get returns a key's row, expired or not.
func (k *Keys) Get(ctx context.Context, key string) (idempotency.Claim, bool, error) {
	c, err := scanClaim(k.get.QueryRowContext(ctx, key))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return idempotency.Claim{}, false, nil
	case err != nil:
		return idempotency.Claim{}, false, fmt.Errorf("get key %s: %w", key, err)
	}
	return c, true, nil
}

// Prune deletes keys that expired at or before now (see
// idempotency.Claim.Expired: never one whose lease still runs).
func (k *Keys) Prune(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := k.db.w.do(ctx, func(ctx context.Context) error {
		res, err := k.prune.ExecContext(ctx, nanos(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune keys: %w", err)
	}
	return n, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanClaim(s scanner) (idempotency.Claim, error) {
	var (
		c                         idempotency.Claim
		state                     string
		result                    []byte
		claimed, lease, expiresAt int64
	)
	if err := s.Scan(&c.Key, &c.Tool, &c.ArgsHash, &c.Target, &c.Owner, &state, &result,
		&claimed, &lease, &expiresAt, &c.Via); err != nil {
		return idempotency.Claim{}, err
	}
	c.State = idempotency.State(state)
	if result != nil {
		c.Result = json.RawMessage(result)
	}
	c.ClaimedAt, c.LeaseUntil, c.ExpiresAt = fromNanos(claimed), fromNanos(lease), fromNanos(expiresAt)
	return c, nil
}
