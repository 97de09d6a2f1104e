# canbao: build, run and test. Recipes are indented with tabs.
#
#   make run    install/start MariaDB and Redis if needed, build, migrate, seed the demo, serve
#   make test   the same services, then go vet, every test, and a short run of every fuzz target

GO       ?= go
BIN      ?= bin/canbao
FUZZTIME ?= 5s

.DEFAULT_GOAL := build

.PHONY: help services build run test fuzz-short lint vet clean

help:
	@echo "make services    install/start MariaDB and Redis for development (deployments/scripts/ensure-services.sh)"
	@echo "make build       build $(BIN)"
	@echo "make run         services + build, then migrate, seed the demo data and serve"
	@echo "make test        services, go vet, go test ./..., then fuzz-short"
	@echo "make fuzz-short  run every fuzz target for FUZZTIME (now $(FUZZTIME)) each"
	@echo "make lint        gofmt -l must be empty, go vet"
	@echo "make clean       remove build and test output (keeps .canbao/ dev secrets)"

services:
	bash deployments/scripts/ensure-services.sh

build:
	$(GO) build -o $(BIN) ./cmd/canbao

run: services build
	$(BIN) migrate && $(BIN) seed demo && $(BIN) serve

test: services
	$(GO) vet ./...
	$(GO) test -count=1 -p 2 -timeout 9m ./...
	$(MAKE) fuzz-short

fuzz-short:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash deployments/scripts/fuzz-short.sh

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
