// Command cachewarm-bench measures a full warm in real worker processes against the raw
// bound and a naive warmer, and change-to-fresh latency. Run it with make bench.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cachewarm/cachewarm/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench.Main(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(1)
	}
}
