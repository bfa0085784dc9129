# siambench — see README.md. Every target installs or builds what it needs.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/siambench/siambench/internal/cli/factory.version=$(VERSION)
PLUGINS := $(notdir $(wildcard plugins/*))
# Without OpenBLAS's headers (and apt to install them) build the pure-Go GEMM only.
TAGS := $(shell [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || ls /usr/include/*/cblas.h >/dev/null 2>&1 || echo noopenblas)
GOFLAGS_TAGS := $(if $(TAGS),-tags $(TAGS),)

.PHONY: all deps build run test test-short lint proto bench-engine bench-transport bench-data clean

all: build

# deps installs what builds and tests use (scripts/deps.sh: OpenBLAS, the
# Fashion-MNIST package, PyTorch for bench-engine, Go modules) when missing.
deps:
	@bash scripts/deps.sh

build: deps
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_TAGS) -ldflags "$(LDFLAGS)" -o $(BIN)/bench ./cmd/bench
	@for p in $(PLUGINS); do \
	  if [ -f plugins/$$p/main.go ]; then \
	    $(GO) build $(GOFLAGS_TAGS) -ldflags "$(LDFLAGS)" -o $(BIN)/bench-method-$$p ./plugins/$$p || exit 1; \
	  fi; done

# run is the main job: a full default sweep on the embedded dataset.
run: build
	$(BIN)/bench run --out results/default

# test is the README's test command: vet, then every package's tests.
test: build
	$(GO) vet $(GOFLAGS_TAGS) ./...
	$(GO) test $(GOFLAGS_TAGS) -timeout 25m ./...

test-short: build
	$(GO) test $(GOFLAGS_TAGS) -short ./...

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

# bench-transport: a method's step over gRPC vs in-process (docs/plugins.md).
bench-transport: deps
	$(GO) test -run '^$$' -bench MethodStep -benchtime 30x ./internal/pluginhost/transportbench

# bench-data: augmented views per second per preset (docs/data.md).
bench-data: deps
	$(GO) test -run '^$$' -bench 'Augment|LoaderEpoch' -benchtime 1s ./data

clean:
	rm -rf $(BIN)
