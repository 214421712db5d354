package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

var _ idempotency.Store = (*Keys)(nil)

// Keys is the idempotency key table. It implements idempotency.Store.
type Keys struct {
	pool *pgxpool.Pool
}

const keyColumns = `key, tool, args_hash, target, owner, state, result, claimed_at, lease_until, expires_at, via`

// expiredAt is idempotency.Claim.Expired in SQL, for the time t: a committed
// row expires at expires_at, a claimed or in-doubt one not before its lease
// ends too, so a call that may still be sending keeps its key.
func expiredAt(t string) string {
	return `(idempotency_keys.expires_at <= ` + t + ` AND (idempotency_keys.state = 'committed' OR idempotency_keys.lease_until <= ` + t + `))`
}

var (
	// acquireSQL inserts a new key, or takes over a committed one that has
	// expired, in one statement: the common case needs no explicit
	// transaction. A concurrent claimer of the same new key waits for this
	// insert to commit and then finds the row unexpired, so it returns
	// nothing.
	//
	// An expired row that is not committed is left to claimExisting: it has
	// run out its lease, so it is in doubt (idempotency.Resolve), and its
	// call may have acted. The claim must return it (ReplacedInDoubt) for
	// the caller to name, and RETURNING shows only the new row (OLD is
	// PostgreSQL 18's). Such a row is rare; a new key still costs one round
	// trip.
	acquireSQL = `INSERT INTO idempotency_keys (` + keyColumns + `)
		VALUES ($1, $2, $3, $4, $5, 'claimed', NULL, $6, $7, $8, $9)
		ON CONFLICT (key) DO UPDATE SET
			tool = excluded.tool, args_hash = excluded.args_hash, target = excluded.target,
			owner = excluded.owner, state = 'claimed', result = NULL, claimed_at = excluded.claimed_at,
			lease_until = excluded.lease_until, expires_at = excluded.expires_at, via = excluded.via
		WHERE ` + expiredAt("excluded.claimed_at") + ` AND idempotency_keys.state = 'committed'
		RETURNING ` + keyColumns
	pruneSQL   = `DELETE FROM idempotency_keys WHERE ` + expiredAt("$1")
	inDoubtSQL = `SELECT ` + keyColumns + ` FROM idempotency_keys
		WHERE state <> 'committed' ORDER BY claimed_at, key`
)

const (
	lockSQL    = `SELECT ` + keyColumns + ` FROM idempotency_keys WHERE key = $1 FOR UPDATE`
	replaceSQL = `UPDATE idempotency_keys SET
			tool = $2, args_hash = $3, target = $4, owner = $5, state = 'claimed', result = NULL,
			claimed_at = $6, lease_until = $7, expires_at = $8, via = $9
		WHERE key = $1`
	reacquireSQL = `UPDATE idempotency_keys SET state = 'claimed', owner = $2, lease_until = $3 WHERE key = $1`
)

// maxClaimAttempts bounds Claim's retries when the row vanishes (Release or
// Prune by another process) between the insert and the lock.
const maxClaimAttempts = 5

// claimTimeout bounds a claim's statements once they are sent, as
// busy_timeout bounds the SQLite writer's: long enough that a slow but
// working server answers (so a claim it made is reported made), short
// enough that a server that stopped answering does not hold the call.
const claimTimeout = 30 * time.Second

// readCommitted is the isolation every claim and owner write runs at,
// whatever the server's default_transaction_isolation (which the URL may
// also set): the row-lock logic relies on READ COMMITTED, where a statement
// that waited for a concurrent claimer's lock sees that claimer's row. Under
// REPEATABLE READ or SERIALIZABLE the waiter fails with SQLSTATE 40001
// instead, and a retry storm on one key gets "store cannot be written"
// where SQLite answers "in progress".
var readCommitted = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// beginReadCommitted opens a batch's transaction at readCommitted.
const beginReadCommitted = `BEGIN ISOLATION LEVEL READ COMMITTED`

// Claim takes c.Key or reports who has it; see idempotency.Store. A new key,
// or an expired committed one, costs one round trip; any other case one
// transaction that locks the row, in which idempotency.Resolve decides
// (and reports an expired row in doubt that it replaces: ReplacedInDoubt).
//
// Only the wait for a connection obeys ctx, as with the SQLite writer: the
// statements run on a context that is not cancelled (bounded by
// claimTimeout), because a cancellation that arrives after the server
// committed but before its reply would make a claim that is made look
// failed. The chain would say nothing was sent, and every retry with the
// key would be told the first call is still in progress until the lease
// ran out, then reconcile a call that never sent.
func (k *Keys) Claim(ctx context.Context, c idempotency.Claim, now time.Time, alive func(owner string) bool) (idempotency.Claim, idempotency.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Claim{}, 0, fmt.Errorf("claim %s: not started: %w", c.Key, err)
	}
	conn, err := k.pool.Acquire(ctx)
	if err != nil {
		return idempotency.Claim{}, 0, fmt.Errorf("claim %s: wait for a connection: %w", c.Key, err)
	}
	defer conn.Release()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	for range maxClaimAttempts {
		row, acquired, err := acquire(ctx, conn, c, now)
		if err != nil {
			return idempotency.Claim{}, 0, fmt.Errorf("claim %s: %w", c.Key, err)
		}
		if acquired {
			return row, idempotency.Acquired, nil
		}
		row, out, found, err := claimExisting(ctx, conn, c, now, alive)
		if err != nil {
			return idempotency.Claim{}, 0, fmt.Errorf("claim %s: %w", c.Key, err)
		}
		if found {
			return row, out, nil
		}
	}
	return idempotency.Claim{}, 0, fmt.Errorf("claim %s: the row kept vanishing after %d attempts", c.Key, maxClaimAttempts)
}

// acquire inserts c, or takes over its expired committed row, with
// acquireSQL in a READ COMMITTED transaction of its own, sent as one batch:
// one round trip. acquired is false when the key exists and has not expired
// or was not committed.
func acquire(ctx context.Context, conn *pgxpool.Conn, c idempotency.Claim, now time.Time) (row idempotency.Claim, acquired bool, err error) {
	b := &pgx.Batch{}
	b.Queue(beginReadCommitted)
	b.Queue(acquireSQL, c.Key, c.Tool, c.ArgsHash, c.Target, c.Owner, now, c.LeaseUntil, c.ExpiresAt, c.Via).
		QueryRow(func(r pgx.Row) error {
			row, err = scanClaim(r)
			switch {
			case err == nil:
				acquired = true
			case errors.Is(err, pgx.ErrNoRows):
				err = nil
			}
			return err
		})
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return idempotency.Claim{}, false, err
	}
	return row, acquired, nil
}

// claimExisting decides a claim on a key that exists, holding its row lock.
// found is false when the row was gone by the time it was locked.
func claimExisting(ctx context.Context, conn *pgxpool.Conn, c idempotency.Claim, now time.Time, alive func(string) bool) (row idempotency.Claim, out idempotency.Outcome, found bool, err error) {
	err = pgx.BeginTxFunc(ctx, conn, readCommitted, func(tx pgx.Tx) error {
		current, err := scanClaim(tx.QueryRow(ctx, lockSQL, c.Key))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		found = true
		row, out = idempotency.Resolve(&current, c, now, alive)
		switch out {
		case idempotency.Acquired: // expired, not committed (acquireSQL), or expired after our insert looked
			_, err = tx.Exec(ctx, replaceSQL, row.Key, row.Tool, row.ArgsHash, row.Target, row.Owner,
				row.ClaimedAt, row.LeaseUntil, row.ExpiresAt, row.Via)
		case idempotency.Reacquired:
			_, err = tx.Exec(ctx, reacquireSQL, row.Key, row.Owner, row.LeaseUntil)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	return row, out, found, err
}

// Commit stores the result and marks the key committed.
func (k *Keys) Commit(ctx context.Context, key, owner string, result json.RawMessage) error {
	return k.ownedUpdate(ctx, "commit", key,
		`UPDATE idempotency_keys SET state = 'committed', result = $3 WHERE key = $1 AND owner = $2`,
		key, owner, []byte(result))
}

// MarkInDoubt records that the provider call may have taken effect.
func (k *Keys) MarkInDoubt(ctx context.Context, key, owner string) error {
	return k.ownedUpdate(ctx, "mark in doubt", key,
		`UPDATE idempotency_keys SET state = 'in_doubt' WHERE key = $1 AND owner = $2 AND state IN ('claimed', 'in_doubt')`,
		key, owner)
}

// Release deletes a claimed or in-doubt key so that a retry may send again.
func (k *Keys) Release(ctx context.Context, key, owner string) error {
	return k.ownedUpdate(ctx, "release", key,
		`DELETE FROM idempotency_keys WHERE key = $1 AND owner = $2 AND state IN ('claimed', 'in_doubt')`,
		key, owner)
}

// Restore writes old, the expired row in doubt that owner's claim
// replaced, back in place of that claim, in doubt, as it was (see
// idempotency.Store).
func (k *Keys) Restore(ctx context.Context, owner string, old idempotency.Claim) error {
	return k.ownedUpdate(ctx, "restore", old.Key,
		`UPDATE idempotency_keys SET tool = $3, args_hash = $4, target = $5, owner = $6, state = 'in_doubt', result = NULL,
			claimed_at = $7, lease_until = $8, expires_at = $9, via = $10
		WHERE key = $1 AND owner = $2 AND state IN ('claimed', 'in_doubt')`,
		old.Key, owner, old.Tool, old.ArgsHash, old.Target, old.Owner, old.ClaimedAt, old.LeaseUntil, old.ExpiresAt, old.Via)
}

// Extend moves a claimed key's lease forward.
func (k *Keys) Extend(ctx context.Context, key, owner string, leaseUntil time.Time) error {
	return k.ownedUpdate(ctx, "extend", key,
		`UPDATE idempotency_keys SET lease_until = $3 WHERE key = $1 AND owner = $2 AND state = 'claimed'`,
		key, owner, leaseUntil)
}

// ownedUpdate runs a statement guarded by "AND owner = $2" and turns "no row
// changed" into ErrNotOwner.
//
// It runs with synchronous_commit off, in one round trip: losing such a
// write in a server crash is safe, because the row is left claimed by its
// old owner, whose lease runs out, and the next Claim treats it as in doubt
// and reconciles. Only the claim itself must be on disk before anything is
// sent, and Claim keeps the server's default.
//
// It runs at READ COMMITTED, like Claim (see readCommitted): a heartbeat's
// Extend racing a takeover of its key must find that it no longer owns the
// key (ErrNotOwner), not fail to serialize.
func (k *Keys) ownedUpdate(ctx context.Context, what, key, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(beginReadCommitted)
	b.Queue("SET LOCAL synchronous_commit = off")
	update := b.Queue(sql, args...)
	b.Queue("COMMIT")
	var n int64
	update.Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	if err := k.pool.SendBatch(ctx, b).Close(); err != nil {
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
	rows, err := k.pool.Query(ctx, inDoubtSQL)
	if err != nil {
		return nil, fmt.Errorf("list keys in doubt: %w", err)
	}
	defer rows.Close()
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
	c, err := scanClaim(k.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM idempotency_keys WHERE key = $1`, key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return idempotency.Claim{}, false, nil
	case err != nil:
		return idempotency.Claim{}, false, fmt.Errorf("get key %s: %w", key, err)
	}
	return c, true, nil
}

// Prune deletes keys that expired at or before now (see
// idempotency.Claim.Expired: never one whose lease still runs).
func (k *Keys) Prune(ctx context.Context, now time.Time) (int64, error) {
	tag, err := k.pool.Exec(ctx, pruneSQL, now)
	if err != nil {
		return 0, fmt.Errorf("prune keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

func scanClaim(row pgx.Row) (idempotency.Claim, error) {
	var (
		c      idempotency.Claim
		state  string
		result []byte
	)
	if err := row.Scan(&c.Key, &c.Tool, &c.ArgsHash, &c.Target, &c.Owner, &state, &result,
		&c.ClaimedAt, &c.LeaseUntil, &c.ExpiresAt, &c.Via); err != nil {
		return idempotency.Claim{}, err
	}
	c.State = idempotency.State(state)
	if result != nil {
		c.Result = json.RawMessage(result)
	}
	c.ClaimedAt, c.LeaseUntil, c.ExpiresAt = c.ClaimedAt.UTC(), c.LeaseUntil.UTC(), c.ExpiresAt.UTC()
	return c, nil
}
