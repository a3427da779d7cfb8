.PHONY: run test bench build lint fuzz

# Starts PostgreSQL and Redis if needed, migrates, prints a demo key and a curl, runs the service.
run:
	scripts/run.sh

# What CI runs (.ci/run): services up, vet, then every test against real PostgreSQL and Redis.
test:
	scripts/services.sh
	test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	go vet ./...
	go test -race -count=1 -timeout 15m ./...

build:
	go build -o bin/linkit ./cmd/linkit

# Reproducible benchmarks (fixed seeds) printed as ratios to baselines measured in the same run.
bench:
	scripts/services.sh
	go run ./bench $(BENCH_ARGS)

fuzz:
	go test ./dedupe -run '^$$' -fuzz FuzzNormalizePhone -fuzztime 30s
	go test ./dedupe -run '^$$' -fuzz FuzzNormalizeEmail -fuzztime 30s
	go test ./importer -run '^$$' -fuzz FuzzReader -fuzztime 30s
