package sqlite

import (
	"testing"

	"github.com/saas-mcp/saas-mcp/internal/store/storetest"
)

func TestACancelledContextIsRefusedEveryTime(t *testing.T) {
	t.Parallel()

	storetest.CancelledContext(t, func(t *testing.T) storetest.Stores {
		db := openTest(t, Options{})
		return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
	})
}
