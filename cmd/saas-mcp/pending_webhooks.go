package main

// TEMPORARY (lead): placeholders until internal/webhook lands; helper-4 replaces this file with webhooks.go.

import (
	"context"
	"io"
)

func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) int { return 2 }
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int   { return 2 }
