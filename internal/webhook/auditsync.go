package webhook

import (
	"context"
	"fmt"
	"sync"

	"github.com/saas-mcp/saas-mcp/internal/audit"
)

// GroupSync makes audit records durable in groups. Each Write appends through
// the inner sink (opened without a per-record fsync) and then waits for one
// fsync that began after its record was written; every writer waiting at that
// moment shares it. Under load that is one fsync per group of records instead
// of one per record, with the same promise: Write returns after the record is
// on disk.
//
// A failed fsync is final: the kernel may have dropped the dirty pages, so no
// later fsync can vouch for them, and every later Write fails (fail closed).
type GroupSync struct {
	inner audit.Sink
	sync  func() error

	mu      sync.Mutex
	cond    *sync.Cond
	issued  uint64 // records written so far
	synced  uint64 // records covered by a finished fsync
	syncing bool
	err     error
}

var _ audit.Sink = (*GroupSync)(nil)

// NewGroupSync wraps inner; syncFile flushes the file inner writes to (an
// *os.File's Sync on the same path works: fsync is per file, not per
// descriptor).
func NewGroupSync(inner audit.Sink, syncFile func() error) *GroupSync {
	g := &GroupSync{inner: inner, sync: syncFile}
	g.cond = sync.NewCond(&g.mu)
	return g
}


// Write appends r and returns once it is synced.
func (g *GroupSync) Write(ctx context.Context, r audit.Record) error {
	if err := g.failed(); err != nil {
		return err
	}
	if err := g.inner.Write(ctx, r); err != nil {
		return err
	}
	return g.await(1)
}

// WriteBatch appends records one by one and syncs once for all of them.
func (g *GroupSync) WriteBatch(ctx context.Context, rs []audit.Record) error {
	if err := g.failed(); err != nil {
		return err
	}
	for _, r := range rs {
		if err := g.inner.Write(ctx, r); err != nil {
			return err
		}
	}
	return g.await(uint64(len(rs)))
}

func (g *GroupSync) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// await counts n written records and waits until an fsync started after
// them has finished.
func (g *GroupSync) await(n uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.issued += n
	mine := g.issued
	for g.synced < mine && g.err == nil {
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		upto := g.issued
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.syncing = false
		if err != nil {
			g.err = fmt.Errorf("sync audit log: %w", err)
		} else {
			g.synced = upto
		}
		g.cond.Broadcast()
	}
	if g.synced >= mine {
		return nil
	}
	return g.err
}
