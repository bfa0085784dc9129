// Command bench-engine times one training step (forward, backward, SGD with
// momentum 0.9) of DESIGN.md's reference network at batch 256 on random
// 1×28×28 input: ours (package nn) and the same network in PyTorch
// (scripts/bench_engine.py, run as a child process), alternating rounds of
// each in one invocation. It prints both medians, our effective GFLOP/s
// against the sgemm peak it measures in the same run, both peak RSS, and as
// its last line exactly "ours/pytorch step-time ratio: R".
//
//	go run ./cmd/bench-engine            (or: make bench-engine)
//	go run ./cmd/bench-engine -pytorch=false -cpuprofile cpu.out -rounds 3
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
