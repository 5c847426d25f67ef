# cachewarm: `make demo` runs the whole story, `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/cachewarm
TENANTS ?= 50

.PHONY: help build services demo test node lint bench coldbench bench-writes microbench scaling curve fuzz clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/cachewarm
	$(GO) build -o $(BIN) ./cmd/cachewarm

services: ## make sure PostgreSQL and Redis answer (start or install them if needed)
	@scripts/services.sh

demo: services build ## seed, migrate, warm $(TENANTS) tenants with progress, verify every key, print the summary
	$(BIN) demo --tenants $(TENANTS)

node: test/nestjs/node_modules/.installed ## install the NestJS compatibility test project (npm ci)

test/nestjs/node_modules/.installed: test/nestjs/package-lock.json
	npm ci --prefix test/nestjs --no-audit --no-fund
	@touch $@

test: services node ## run every test (real PostgreSQL, Redis and NestJS cache-manager)
	$(GO) test -count=1 -timeout 12m ./...

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean: ## remove build output
	rm -rf bin

BENCH_TENANTS ?= 1000
BENCH_WORKERS ?= 1
bench: services build ## end-to-end benchmark: full warm of $(BENCH_TENANTS) tenants vs raw bound and naive warmer, change-to-fresh latency, then the write path
	$(GO) run ./cmd/cachewarm-bench --tenants $(BENCH_TENANTS) --workers $(BENCH_WORKERS) --bin $(BIN)
	$(MAKE) --no-print-directory bench-writes

COLDBENCH_TENANTS ?= 1000
coldbench: services build ## cold starts: a private Redis restarted empty, then FLUSHALL, under a worker keeping $(COLDBENCH_TENANTS) tenants warm: time until noticed, critical keys back, full re-warm
	$(GO) run ./cmd/cachewarm-bench --cold --tenants $(COLDBENCH_TENANTS) --database cachewarm_coldbench --bin $(BIN)

bench-writes: services ## what change capture costs the ERP's writes, both modes: pgbench with and without cachewarm, interleaved, on a private PostgreSQL
	$(GO) test -run '^$$' -bench WritePath -benchtime 1x -timeout 30m ./test/writepath/

SCALING_TENANTS ?= 1000
scaling: services ## worker-count curve: warm $(SCALING_TENANTS) tenants with 1-3 worker processes, single Redis vs cluster
	TENANTS=$(SCALING_TENANTS) RUNS=$${RUNS:-2} scripts/scaling.sh

CURVE_COUNTS ?= 10 100 1000
curve: services build ## tenant-count curve: full warm of $(CURVE_COUNTS) tenants, one table row each
	COUNTS="$(CURVE_COUNTS)" RUNS=$${RUNS:-1} scripts/tenants.sh

microbench: ## go test micro-benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./cache/ ./internal/rediswrite/ ./internal/keyv/ ./internal/warm/ ./internal/pgjson/ ./internal/catalog/

# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when the time is up on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27). FUZZTIME=30s still works by hand.
FUZZTIME ?= 20000x
fuzz: ## run each fuzz target for $(FUZZTIME) executions (seed corpora also run in make test)
	@set -e; for t in FuzzParseTenant FuzzEscapeSegment FuzzKeys; do $(GO) test ./cache -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME); done
	@set -e; for t in FuzzWarmRequest FuzzInvalidateRequest; do $(GO) test ./internal/httpapi -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME); done
	$(GO) test ./internal/config -run '^$$' -fuzz '^FuzzRedact$$' -fuzztime $(FUZZTIME)
