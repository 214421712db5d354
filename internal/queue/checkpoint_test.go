package queue

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The write connection's automatic checkpoint copies the WAL into the
// database file only once the WAL holds about 1000 pages, inside a commit.
// A few deliveries stay far below that: the key reaches the database file
// only if the background checkpointer copied it.
func TestCheckpointerCopiesTheWALIntoTheDatabaseFileInTheBackground(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		every time.Duration
		want  bool
	}{
		{"on by default", 0, true},
		{"off", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), FileName)
			db, err := Open(context.Background(), path, Options{Synchronous: "NORMAL", CheckpointEvery: tc.every})
			require.NoError(t, err)
			defer func() { require.NoError(t, db.Close()) }()
			client, err := db.NewRiver(RiverConfig{})
			require.NoError(t, err)
			in := newIntake(t, db, IntakeOptions{Jobs: RiverInserter(client, 3)})
			defer in.Close()
			key := "github:1:checkpointed-delivery-key"
			_, err = in.Enqueue(context.Background(), NewDelivery{Provider: "github", Key: key, EventType: "push", Payload: []byte(`{}`)})
			require.NoError(t, err)

			inFile := func() bool {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				return bytes.Contains(b, []byte(key))
			}
			if tc.want {
				require.Eventually(t, inFile, 10*time.Second, 10*time.Millisecond)
				return
			}
			time.Sleep(300 * time.Millisecond) // a dozen of the default intervals
			require.False(t, inFile(), "the key reached the database file without a checkpoint")
		})
	}
}
