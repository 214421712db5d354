package postgres

import (
	"testing"

	"github.com/saas-mcp/saas-mcp/internal/store/storetest"
)

func TestACancelledContextIsRefusedEveryTime(t *testing.T) {
	t.Parallel()
	testURL(t)
	storetest.CancelledContext(t, func(t *testing.T) storetest.Stores {
		db := openTest(t)
		return storetest.Stores{Keys: db.Keys(), Ledger: db.Payments()}
	})
}
