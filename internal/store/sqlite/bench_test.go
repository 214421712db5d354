package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// BenchmarkClaimCommit measures the idempotency cost of one tool call: a
// durable claim of a new key, then the commit of its result.
func BenchmarkClaimCommit(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			db, err := Open(context.Background(), b.TempDir()+"/bench.db", Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			ctx := context.Background()
			keys := db.Keys()
			owner := idempotency.OwnerID()
			result := json.RawMessage(`{"ok":true,"channel":"C123","ts":"1712345678.000100"}`)
			i := 0
			for b.Loop() {
				now := time.Now()
				c := idempotency.Claim{Key: fmt.Sprintf("auto:sendMessage:%d", i), Tool: "sendMessage", ArgsHash: "h",
					Target: "C123", Owner: owner, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(10 * time.Minute)}
				if _, out, err := keys.Claim(ctx, c, now, idempotency.Alive); err != nil || out != idempotency.Acquired {
					b.Fatalf("claim: %v %v", out, err)
				}
				if err := keys.Commit(ctx, c.Key, owner, result); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkClaimReplay measures a repeated call that finds its result.
func BenchmarkClaimReplay(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir()+"/bench.db", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ctx := context.Background()
	now := time.Now()
	c := idempotency.Claim{Key: "key:k", Tool: "sendMessage", ArgsHash: "h", Owner: "A",
		LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
	if _, _, err := db.Keys().Claim(ctx, c, now, nil); err != nil {
		b.Fatal(err)
	}
	if err := db.Keys().Commit(ctx, "key:k", "A", json.RawMessage(`{}`)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, out, err := db.Keys().Claim(ctx, c, now, nil); err != nil || out != idempotency.Replay {
			b.Fatalf("claim: %v %v", out, err)
		}
	}
}

// BenchmarkClaimsConcurrent is BenchmarkClaimCommit/FULL with 8 callers at
// once in one process (an agent calling tools in parallel):
// claims that commit while a sync runs share the next one, so a claim costs
// less than one fdatasync. syncs/claim is the figure to compare with 1.
func BenchmarkClaimsConcurrent(b *testing.B) {
	db, err := Open(context.Background(), b.TempDir()+"/bench.db", Options{Synchronous: "FULL"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	<-db.walDone
	ctx, owner := context.Background(), idempotency.OwnerID()
	result := json.RawMessage(`{"ok":true}`)
	var next atomic.Int64
	before := db.w.wal.Syncs()
	b.SetParallelism(4) // 4 x GOMAXPROCS callers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := time.Now()
			c := idempotency.Claim{Key: fmt.Sprintf("auto:sendMessage:%d", next.Add(1)), Tool: "sendMessage", ArgsHash: "h",
				Target: "C123", Owner: owner, LeaseUntil: now.Add(time.Minute), ExpiresAt: now.Add(10 * time.Minute)}
			if _, out, err := db.Keys().Claim(ctx, c, now, idempotency.Alive); err != nil || out != idempotency.Acquired {
				b.Errorf("claim: %v %v", out, err) // not Fatal: this is not the benchmark's goroutine
				return
			}
			if err := db.Keys().Commit(ctx, c.Key, owner, result); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(db.w.wal.Syncs()-before)/float64(b.N), "syncs/claim")
}
