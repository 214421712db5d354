// Package storetest is one conformance suite for every database behind the
// idempotency key store and the payments ledger. Each database package runs
// it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Exercise(t, func(t *testing.T) storetest.Stores {
//			db := openTestDB(t) // a fresh, empty database, closed by t.Cleanup
//			return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
//		})
//	}
//
// Every subtest runs in parallel on a store of its own, so open must hand out
// independent stores (a file per test for SQLite, a schema per test for
// PostgreSQL).
package storetest

import (
	"testing"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
	"github.com/saas-mcp/saas-mcp/internal/payments"
)

// Stores is what one database provides. The two are separate values because
// both interfaces have a Get method with different signatures, so no single
// type can implement both.
type Stores struct {
	Keys   idempotency.Store
	Ledger payments.Ledger
}

// Concurrency is how many goroutines race in the concurrent cases.
const Concurrency = 32

// Exercise runs the whole suite. open must return empty stores.
func Exercise(t *testing.T, open func(t *testing.T) Stores) {
	t.Helper()
	t.Run("Keys", func(t *testing.T) {
		t.Parallel()
		exerciseKeys(t, open)
	})
	t.Run("Ledger", func(t *testing.T) {
		t.Parallel()
		exerciseLedger(t, open)
	})
}

// base is the suite's "now": whole microseconds, because PostgreSQL keeps no
// finer time, and UTC, as the stores return times.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

// Owner liveness checks for Claim and InDoubt.
func allAlive(string) bool { return true }

func noneAlive(string) bool { return false }
