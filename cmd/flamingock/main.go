package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/flamingock/flamingock-go/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Do(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, cli.Env{})
	stop()
	os.Exit(code)
}
