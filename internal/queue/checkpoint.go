package queue

import (
	"database/sql"
	"time"
)

// DefaultCheckpointEvery is how often the background checkpointer looks
// for WAL frames to copy while the database is being written.
const DefaultCheckpointEvery = 25 * time.Millisecond

// checkpointIdleMax is the longest the checkpointer sleeps once nothing is
// written, so an idle process wakes about once a second.
const checkpointIdleMax = time.Second

// checkpointer copies the WAL into the database file from a connection of
// its own (PASSIVE: it never blocks a writer or a reader). Without it, the
// write connection's automatic checkpoint copied about 1000 pages inside
// whichever intake commit crossed the threshold, holding the write lock
// for 10 to 20 ms while deliveries waited: the receiver's p99 at 16
// connections. The automatic checkpoint stays on as the bound on the WAL
// (a passive checkpoint cannot reset a WAL that is written to
// continuously); it then finds almost every frame already copied.
type checkpointer struct {
	conn *sql.DB
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(path string, busy time.Duration, every time.Duration) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn(path, "NORMAL", busy, false))
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	c := &checkpointer{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop(every)
	return c, nil
}

// loop checkpoints every interval while frames keep coming, and backs off
// to checkpointIdleMax while the WAL does not change.
func (c *checkpointer) loop(every time.Duration) {
	defer close(c.done)
	wait := every
	t := time.NewTimer(wait)
	defer t.Stop()
	var lastLog, lastDone int64 = -1, -1
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		// busy is 1 when another connection (a worker process's
		// checkpointer, or an automatic checkpoint) holds the checkpoint
		// lock; the frames are then being copied anyway.
		var busy, log, done int64
		err := c.conn.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done)
		if err != nil || (log == lastLog && done == lastDone) {
			wait = min(2*wait, checkpointIdleMax)
		} else {
			wait = every
		}
		lastLog, lastDone = log, done
		t.Reset(wait)
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.conn.Close()
}
