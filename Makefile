# siambench — see README.md. Every target installs or builds what it needs.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/siambench/siambench/internal/cli/factory.version=$(VERSION)
PLUGINS := $(notdir $(wildcard plugins/*))

.PHONY: all deps build run test test-short lint proto bench-engine bench-transport bench-data clean

all: build

# deps installs the system packages the fast path needs (OpenBLAS) when apt is
# available and they are missing; without them bench builds with pure-Go GEMM.
deps:
	@bash scripts/deps.sh

build: deps
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/bench ./cmd/bench
	@for p in $(PLUGINS); do \
	  if [ -f plugins/$$p/main.go ]; then \
	    $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/bench-method-$$p ./plugins/$$p || exit 1; \
	  fi; done

# run is the main job: a full default sweep on the embedded dataset.
run: build
	$(BIN)/bench run --out results/default

test: build
	$(GO) vet ./...
	$(GO) test -timeout 25m ./...

test-short: build
	$(GO) test -short ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); exit 1; }
	$(GO) vet ./...

proto:
	@bash scripts/proto.sh

# bench-engine times a training step of the reference network, ours vs PyTorch
# (alternating); the last line is "ours/pytorch step-time ratio: R". Extra
# flags: make bench-engine BENCH_ENGINE_FLAGS="-gemm go -rounds 3".
bench-engine: deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/bench-engine ./cmd/bench-engine
	$(BIN)/bench-engine $(BENCH_ENGINE_FLAGS)

clean:
	rm -rf $(BIN)
