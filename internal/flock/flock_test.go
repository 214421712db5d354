package flock

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockWaitsForTheHolderAndNoLonger(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Close() })
		return f
	}
	holder, waiter := open(), open()
	require.NoError(t, Lock(context.Background(), holder, 0))

	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		limit   time.Duration
		wantErr string
	}{
		{"a limit ends the wait", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			20 * time.Millisecond, "held the lock"},
		{"the context ends the wait", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, 0, context.DeadlineExceeded.Error()},
	}
	for _, tt := range tests {
		ctx, cancel := tt.ctx()
		err := Lock(ctx, waiter, tt.limit)
		cancel()
		require.Error(t, err, tt.name)
		assert.Contains(t, err.Error(), tt.wantErr, tt.name)
	}

	released := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); _ = Unlock(holder); close(released) }()
	assert.NoError(t, Lock(context.Background(), waiter, time.Second), "taken once the holder lets go")
	<-released
}
