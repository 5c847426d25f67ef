// Command cachewarm keeps a multi-tenant ERP's Redis cache warm from its PostgreSQL database.
// Run "cachewarm help" for its commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cachewarm/cachewarm/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(1)
	}
}
