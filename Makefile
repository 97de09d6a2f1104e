# canbao: build, run and test. Recipes are indented with tabs.
#
#   make run    install/start MariaDB and Redis if needed, build, migrate, seed the demo, serve
#   make test   the same services, then go vet, every test, a short fuzzing run of the pure
#               packages (make fuzz-short) and the console's browser tests (make web-test)
#   make web    rebuild the staff console into web/dist (committed, embedded by go:embed)

GO       ?= go
BIN      ?= bin/canbao
# A count of runs per target, not a duration: Go 1.26's fuzzing coordinator can fail a target
# with "context deadline exceeded" as a duration runs out, when its workers are slow to stop
# (a race fixed in Go 1.27; it failed FuzzParse here once). 50000 runs take 1-10 s per target.
FUZZTIME ?= 50000x
# The fuzz targets make test runs: the pure packages, whose instrumented binaries build in
# seconds (see deployments/scripts/fuzz-short.sh). make fuzz runs them all.
FUZZ_FAST ?= ./internal/idcard ./internal/pii ./internal/creditcode

.DEFAULT_GOAL := build

.PHONY: help services build run test test-cluster drills-cluster fuzz-short fuzz lint vet clean drills bench web web-check web-test web-deps web-budgets tidy-check spec-lint mutation

help:
	@echo "make services    install/start MariaDB and Redis for development (deployments/scripts/ensure-services.sh)"
	@echo "make build       build $(BIN)"
	@echo "make run         services + build, then migrate, seed the demo data and serve"
	@echo "make test        services, go vet, go test ./... with the contract's coverage check, fuzz-short, then web-test"
	@echo "make test-cluster the Redis-touching packages' tests against a local 3-master Redis Cluster (deployments/scripts/redis-cluster.sh, ~4 min)"
	@echo "make spec-lint   lint api/openapi.yaml with Redocly (redocly.yaml; CI)"
	@echo "make fuzz-short  fuzz the pure packages' targets ($(FUZZ_FAST)) for FUZZTIME (now $(FUZZTIME)) each"
	@echo "make fuzz        fuzz every target for FUZZTIME each (campaigns, visit, web too: ~10 min of building)"
	@echo "make vet         go vet ./..."
	@echo "make lint        gofmt -l must be empty, go vet"
	@echo "make tidy-check  fail when go mod tidy would change go.mod or go.sum (CI)"
	@echo "make clean       remove build and test output (keeps .canbao/ dev secrets)"
	@echo "make web         rebuild the console (web/) into web/dist: npm ci, gen:api, type check, vite build"
	@echo "make web-check   fail if web/dist is not what web/ builds to (CI)"
	@echo "make web-deps    install what the browser tests need: Chromium, a Chinese font, npm packages"
	@echo "make web-test    browser tests of the console (Playwright + Debian's Chromium, ~2 min)"
	@echo "make web-budgets the console's timing budgets, enforced (run on an idle machine)"
	@echo "make drills      fault drills against real processes on a private MariaDB and Redis (drills/, ~6 min)"
	@echo "make drills-cluster  make drills with each drill on its own private 3-master Redis Cluster (~6 min)"
	@echo "make mutation    mutation testing (gremlins) of the pure packages, a score per package (docs/MUTATION.md, ~20 min)"
	@echo "make bench       load and 1,000,000-row benchmarks against baselines, writes docs/PERFORMANCE.md (~22 min)"

services:
	bash deployments/scripts/ensure-services.sh

build:
	$(GO) build -o $(BIN) ./cmd/canbao

run: services build
	$(BIN) migrate && $(BIN) seed demo && $(BIN) serve

# The API tests record every answer they get (status, error code, headers); once they have all
# run, TestContractCoverage holds the union against api/openapi.yaml both ways (see
# internal/platform/contract/coverage_test.go).
test: services
	$(GO) vet ./...
	@obs="$$(mktemp -d "$${TMPDIR:-/tmp}/canbao-contract.XXXXXX")"; \
	CANBAO_CONTRACT_OBSERVED="$$obs" $(GO) test -count=1 -p 2 -timeout 9m ./... && \
	CANBAO_CONTRACT_COVERAGE="$$obs" $(GO) test -count=1 -v -run '^TestContractCoverage$$' ./internal/platform/contract/; \
	rc=$$?; rm -rf "$$obs"; exit $$rc
	$(MAKE) fuzz-short
	$(MAKE) web-test

# The packages whose tests use Redis keys beyond a plain cache (scripts, transactions, streams,
# counters, rate limits, sessions), run against a real local Redis Cluster: three masters on
# 127.0.0.1:7001-7003 (REDIS_CLUSTER_PORTS) that deployments/scripts/redis-cluster.sh starts
# from the installed redis-server and stops afterwards (REDIS_CLUSTER_KEEP=1 keeps it).
# dbtest gives every test a cluster client when CANBAO_TEST_REDIS_ADDRS lists the nodes.
CLUSTER_PKGS ?= ./internal/platform/dbtest ./internal/platform/ratelimit ./internal/auth ./internal/policy ./internal/village ./internal/wechat \
	./internal/registration ./campaigns/counters ./campaigns ./campaigns/engine ./internal/server ./cmd/canbao

test-cluster: services
	@addrs="$$(bash deployments/scripts/redis-cluster.sh start | tail -n1)" || exit 1; \
	CANBAO_TEST_REDIS_ADDRS="$$addrs" $(GO) test -count=1 -p 2 -timeout 9m $(CLUSTER_PKGS); \
	rc=$$?; [ -n "$$REDIS_CLUSTER_KEEP" ] || bash deployments/scripts/redis-cluster.sh stop; exit $$rc

# The staff web console (web/). go build and go test never need Node: web/dist is committed and
# embedded. These targets do (Node 20.19+).
web:
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && npm run gen:api && npm run typecheck && npm run build

web-check:
	bash deployments/scripts/check-web-dist.sh

web-deps:
	bash deployments/scripts/ensure-web-test-deps.sh

# Browser tests against a real server on a throwaway database (web/e2e/run.sh); screenshots go
# to docs/console/.
web-test: services web-deps
	GO=$(GO) bash web/e2e/run.sh

# The browser tests with their wall-clock budgets enforced (dashboard within 1 s of login): run
# on an otherwise idle machine; make test only measures and reports them.
web-budgets: services web-deps
	E2E_ENFORCE_BUDGETS=1 GO=$(GO) bash web/e2e/run.sh -g 总览

# Fault drills (docs/ARCHITECTURE.md, "Nothing lost, nothing twice"): real canbao processes
# against a throwaway MariaDB and Redis the drills start themselves on free loopback ports; the
# shared services (3306, 6379) are never touched. DRILLS_KEEP=1 keeps their logs and data in /tmp.
drills:
	$(GO) test -tags drills -count=1 -v -timeout 15m ./drills/

# The whole drills suite again, each drill on its own private 3-master Redis Cluster (three
# cluster-enabled redis-servers on free loopback ports, joined by redis-cli --cluster create)
# instead of one redis-server: CANBAO_DRILL_REDIS_CLUSTER=1 (drills/harness_test.go). Drill 6 can
# still be pointed at an outside Redis or cluster with CANBAO_DRILL_REDIS_ADDRS.
drills-cluster:
	CANBAO_DRILL_REDIS_CLUSTER=1 $(GO) test -tags drills -count=1 -v -timeout 20m ./drills/

# Mutation testing of the pure packages (deployments/scripts/mutation.sh, docs/MUTATION.md):
# gremlins, installed at its pinned version if missing, mutates each package and runs only that
# package's own tests against every mutant. Not part of make test or CI: it takes a while.
# MUTATION_PACKAGES narrows it, e.g. MUTATION_PACKAGES='idcard pii'.
mutation:
	GO=$(GO) bash deployments/scripts/mutation.sh $(MUTATION_PACKAGES)

fuzz-short:
	FUZZ_PKGS="$(FUZZ_FAST)" FUZZTIME=$(FUZZTIME) GO=$(GO) bash deployments/scripts/fuzz-short.sh

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash deployments/scripts/fuzz-short.sh

tidy-check:
	$(GO) mod tidy -diff

# api/openapi.yaml must pass Redocly's recommended rules (redocly.yaml says which are off, and
# why). @redocly/cli is a pinned devDependency of web/.
spec-lint:
	cd web && { [ -d node_modules/@redocly/cli ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; } && \
		npx --no-install redocly lint ../api/openapi.yaml --config ../redocly.yaml --format=stylish

vet:
	$(GO) vet ./...

lint: vet
	@files="$$(find . -name '*.go' -not -path './vendor/*' -not -path '*/testdata/*' -not -path './.git/*' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$files" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$files"; exit 1; fi
	@echo "lint: ok"

# .canbao/ is kept on purpose: it holds the dev PII key, and the dev database is encrypted with it.
clean:
	rm -rf bin/ coverage/
	rm -f coverage.out coverage.html cover.out *.test *.prof *.pprof cpu.out mem.out

# Load benchmarks of the built binary against baselines measured in the same run (about 12
# minutes): a fresh database canbao_bench with 1,000,000 residents, dropped at the end. Writes
# docs/PERFORMANCE.md (the results table) and docs/bench-results.json. MariaDB and Redis must be
# running on 127.0.0.1. BENCHFLAGS passes flags, e.g. BENCHFLAGS='-scale 0.05 -out ""'.
bench: build
	$(GO) build -o bin/canbao-bench ./bench/cmd/canbao-bench
	bin/canbao-bench -canbao $(BIN) -out docs $(BENCHFLAGS)
