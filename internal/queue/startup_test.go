package queue

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAReceiverAndWorkersStartingTogetherOnANewDataDirAllOpen opens one
// new webhooks.db from several handles at once, as `saas-mcp webhooks` and
// `saas-mcp worker` do when started together on a new DATA_DIR (systemd,
// compose): every Open succeeds. River's migrator reads the applied
// versions outside any transaction, so without the migration lock two
// openers both applied version 1 and the loser failed ("table
// river_migration already exists").
func TestAReceiverAndWorkersStartingTogetherOnANewDataDirAllOpen(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		path := filepath.Join(t.TempDir(), FileName)
		const openers = 3
		errs := make([]error, openers)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range openers {
			wg.Go(func() {
				<-gate
				db, err := Open(context.Background(), path, Options{Synchronous: "NORMAL"})
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			})
		}
		close(gate)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, fmt.Sprintf("round %d, opener %d of %d on a new file", round, i, openers))
		}
	}
}
