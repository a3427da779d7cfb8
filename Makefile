.PHONY: run test lint bench build fuzz image chaos soak

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Starts PostgreSQL and Redis if needed, migrates, prints a demo key and a curl, runs the service.
run:
	scripts/run.sh

# What CI runs (.ci/run): lint, tools and services up, then every test against real PostgreSQL and Redis.
# Tests use Redis DB 9 (LINKIT_TEST_REDIS_URL; flush tests 12 and 14), never make run's DB 0.
test: lint
	scripts/test-deps.sh
	scripts/services.sh
	go test -race -count=1 -timeout 25m ./...

# gofmt, go vet and staticcheck; all must be silent.
lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)
	go vet ./...
	go run $(STATICCHECK) ./...

build:
	go build -o bin/linkit ./cmd/linkit

# The container image, its version stamped from git (.git is not in the build context).
image:
	docker build --build-arg VERSION=$$(git describe --tags --always --dirty 2>/dev/null || echo dev) -t linkit .

# Fault scenarios against built binaries, each compared with an undisturbed run (docs/testing.md#chaos).
# make test runs the short ones; this adds the long ones (LINKIT_CHAOS=full: a PostgreSQL restart, a slow network).
CHAOS_CMD := TestChaos|TestSeveralProcesses|TestWorkerKilledMidTask|TestImportWorkerKilled
CHAOS_API := TestRedisFlushedWhileQueued|TestPostgresOutage|TestImportSurvivesRedisFlush|TestImportSurvivesDatabaseDisconnects|TestImportResumesSoonAfterRedisLoss
chaos:
	scripts/test-deps.sh
	scripts/services.sh
	LINKIT_CHAOS=full go test -count=1 -timeout 10m -v -run '^($(CHAOS_CMD))' ./cmd/linkit
	go test -count=1 -timeout 5m -run '^($(CHAOS_API))$$' ./api

# Reproducible benchmarks (fixed seeds) printed as ratios to baselines measured in the same run.
bench:
	scripts/services.sh
	go run ./bench $(BENCH_ARGS)

# Mixed-load soak of `bin/linkit all` as a subprocess: checkouts, reads, an import a minute and a
# hostile client; a line a minute (p50/p99, errors, RSS, heap), a summary, non-zero exit past the bounds.
SOAK_DURATION ?= 30m
soak: build
	scripts/services.sh
	go run ./bench -soak $(SOAK_DURATION) $(SOAK_ARGS)

fuzz:
	go test ./dedupe -run '^$$' -fuzz FuzzNormalizePhone -fuzztime 30s
	go test ./dedupe -run '^$$' -fuzz FuzzNormalizeEmail -fuzztime 30s
	go test ./dedupe -run '^$$' -fuzz FuzzNamesDiffer -fuzztime 30s
	go test ./importer -run '^$$' -fuzz FuzzReader -fuzztime 30s
