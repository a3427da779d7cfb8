.PHONY: run test lint bench build fuzz image

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Starts PostgreSQL and Redis if needed, migrates, prints a demo key and a curl, runs the service.
run:
	scripts/run.sh

# What CI runs (.ci/run): lint, tools and services up, then every test against real PostgreSQL and Redis.
# Tests use Redis DB 9 (LINKIT_TEST_REDIS_URL; flush tests 12 and 14), never make run's DB 0.
test: lint
	scripts/test-deps.sh
	scripts/services.sh
	go test -race -count=1 -timeout 15m ./...

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

# Reproducible benchmarks (fixed seeds) printed as ratios to baselines measured in the same run.
bench:
	scripts/services.sh
	go run ./bench $(BENCH_ARGS)

fuzz:
	go test ./dedupe -run '^$$' -fuzz FuzzNormalizePhone -fuzztime 30s
	go test ./dedupe -run '^$$' -fuzz FuzzNormalizeEmail -fuzztime 30s
	go test ./dedupe -run '^$$' -fuzz FuzzNamesDiffer -fuzztime 30s
	go test ./importer -run '^$$' -fuzz FuzzReader -fuzztime 30s
