# siambench — see README.md. Every target installs or builds what it needs,
# and nothing more (scripts/deps.sh build|test|bench).
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/siambench/siambench/internal/cli/factory.version=$(VERSION)
PLUGINS := $(notdir $(wildcard plugins/*))
# Every binary, and every binary a test builds, is pure Go and statically
# linked: it runs on any Linux machine of the same architecture (a cluster
# node included) with nothing installed, and host and plugins compute alike.
export CGO_ENABLED := 0

.PHONY: all build docs run test test-short test-interop test-slurm test-root fuzz lint proto bench-engine bench-transport bench-data clean

all: build

build:
	@bash scripts/deps.sh build
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/bench ./cmd/bench
	@for p in $(PLUGINS); do \
	  if [ -f plugins/$$p/main.go ]; then \
	    $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/bench-method-$$p ./plugins/$$p || exit 1; \
	  fi; done

# docs regenerates the command reference docs/cli/bench*.md from the command
# tree (cmd/bench-docs, cobra/doc); cmd/bench-docs's test fails when the
# committed pages differ ("docs/cli is stale: run make docs").
docs:
	@bash scripts/deps.sh build
	$(GO) run ./cmd/bench-docs docs/cli

# run is the main job: a full default sweep on the embedded dataset.
run: build
	$(BIN)/bench run --out results/default

# test is the README's test command: vet, then every package's tests.
test: build
	@bash scripts/deps.sh test
	$(GO) vet ./...
	$(GO) test -timeout 25m ./...

test-short: build
	$(GO) test -short ./...

# test-interop runs the tests that compare against PyTorch (build tag
# interop; their names start with TestInterop or TestTorch); it installs
# Debian's python3-torch first.
test-interop:
	@bash scripts/deps.sh bench
	$(GO) vet -tags interop ./...
	$(GO) test -tags interop -timeout 15m -run '^Test(Interop|Torch)' ./...

# test-slurm runs the Slurm executor against a real one-node cluster the test
# starts (scripts/slurm-cluster.sh); it needs root, and installs Debian's
# slurmctld, slurmd, slurm-client and munge first.
test-slurm: build
	@bash scripts/deps.sh slurm
	$(GO) vet -tags slurm ./internal/cli/run
	$(GO) test -tags slurm -timeout 15m -run '^TestSlurm' -v ./internal/cli/run

# test-root runs the tests that need root besides Slurm's (build tag root):
# a results directory on a tmpfs that fills up mid-sweep.
test-root: build
	$(GO) vet -tags root ./internal/cli/run
	$(GO) test -tags root -timeout 10m -run '^TestRoot' -v ./internal/cli/run

# fuzz runs every fuzz target for FUZZTIME each (scripts/fuzz.sh); a crash is
# saved under the package's testdata/fuzz/, where go test replays it.
FUZZTIME ?= 10s
fuzz:
	@bash scripts/deps.sh build
	@bash scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); exit 1; }
	$(GO) vet ./...

proto:
	@bash scripts/proto.sh

# bench-engine times a training step of the reference network, ours vs PyTorch
# (alternating); the last line is "ours/pytorch step-time ratio: R". Extra
# flags: make bench-engine BENCH_ENGINE_FLAGS="-model resnet18-cifar -input 3x32x32 -batch 64"
# or "-gemm go:avx2-6x16 -rounds 3".
bench-engine:
	@bash scripts/deps.sh bench
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/bench-engine ./cmd/bench-engine
	$(BIN)/bench-engine $(BENCH_ENGINE_FLAGS)

# bench-transport: a method's step over gRPC vs in-process (docs/plugins.md).
bench-transport:
	@bash scripts/deps.sh build
	$(GO) test -run '^$$' -bench MethodStep -benchtime 30x ./pluginhost/transportbench

# bench-data: augmented views per second per preset (docs/data.md).
bench-data:
	@bash scripts/deps.sh build
	$(GO) test -run '^$$' -bench 'Augment|LoaderEpoch' -benchtime 1s ./data

clean:
	rm -rf $(BIN)
