package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/saas-mcp/saas-mcp/internal/idempotency"
)

// BenchmarkClaimCommit measures the idempotency cost of one tool call: a
// durable claim of a new key, then the commit of its result.
func BenchmarkClaimCommit(b *testing.B) {
	db := openTest(b)
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
}
