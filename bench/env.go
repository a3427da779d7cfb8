package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/client"
	"github.com/linkitworks/customers/linkittest"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// stack is the service running in-process as `linkit all` runs it: one
// store (one pool) shared by the API and the worker, a real listener. The
// wiring is linkittest's, the tests' stack.
type stack struct {
	*linkittest.Stack
	cfg       config
	store     *postgres.Store
	opt       asynq.RedisConnOpt
	rdb       redis.UniversalClient
	names     queue.Names
	inspector *asynq.Inspector
	baseURL   string
	http      *http.Client
	apiKey    string
	// api is the generated client over http, for the calls around the
	// measured loops; those send their requests by hand (see README).
	api *client.ClientWithResponses

	workerStarted bool
	closed        bool
}

// benchRateLimit is requests per minute per key, per bucket, in benchmarks.
const benchRateLimit = 1_000_000

// startStack starts the service on cfg.databaseURL, its queues named after
// namespace (a second stack on a copy of the database needs its own).
func startStack(ctx context.Context, cfg config, apiKey, namespace string) (*stack, error) {
	limit := benchRateLimit
	if cfg.noRateLimit {
		limit = -1
	}
	s, err := linkittest.Start(ctx,
		linkittest.WithDatabaseURL(cfg.databaseURL),
		linkittest.WithStore(postgres.Options{MaxConns: int32(cfg.dbMaxConns), ChunkRows: cfg.importChunkRows,
			FuzzyScanMemory: int64(cfg.fuzzyScanMemoryMB) << 20, FuzzyScanWorkers: cfg.fuzzyScanWorkers,
			FuzzyScanNice: cfg.fuzzyScanNice}),
		linkittest.WithRedisURL(cfg.redisURL),
		linkittest.WithNamespace(namespace),
		linkittest.WithLogger(slog.New(slog.DiscardHandler)),
		// The limiter runs (its Redis round trip is part of every figure) with
		// limits no benchmark reaches.
		linkittest.WithAPI(api.Config{AdminToken: "bench-admin", AuthCacheTTL: 10 * time.Second,
			RateLimits: api.RateLimits{Default: limit, Upsert: limit, Import: limit}, UpsertLinger: cfg.upsertLinger}),
	)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute,
			DisableCompression: true,
		},
	}
	s.Deps.SuggestScanYield = cfg.fuzzyScanYield
	s.Deps.ImportYield = cfg.importYield
	st := &stack{Stack: s, cfg: cfg, store: s.Store, opt: s.RedisOpt, rdb: s.Redis, names: s.Names,
		inspector: s.Inspector, baseURL: s.URL, apiKey: apiKey, http: hc}
	if err := st.connectAPI(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return st, nil
}

// connectAPI sets s.api: the generated client of baseURL and apiKey over s.http.
func (s *stack) connectAPI() error {
	c, err := client.New(s.baseURL, s.apiKey, client.WithHTTPClient(s.http))
	if err != nil {
		return fmt.Errorf("API client of %s: %w", s.baseURL, err)
	}
	s.api = c
	return nil
}

// startWorker runs the worker in-process on the stack's queue namespace
// (once: later calls keep the running worker).
func (s *stack) startWorker() {
	if s.workerStarted {
		return
	}
	s.workerStarted = true
	s.StartWorker(worker.Config{Concurrency: s.cfg.workerConcurrency, ImportConcurrency: s.cfg.importConcurrency,
		SuggestPoll: s.cfg.suggestPoll, UpsertPoll: s.cfg.upsertPoll})
}

// close stops the service; again, or on no stack, it does nothing.
func (s *stack) close() {
	if s == nil || s.closed {
		return
	}
	s.closed = true
	if err := s.Close(); err != nil {
		fmt.Println("bench:", err)
	}
}

// do sends one request and reports its status (0 on transport error).
func (s *stack) do(ctx context.Context, req *http.Request) int { return s.doAs(ctx, s.apiKey, req) }

// doAs is do with another API key (another organization's).
func (s *stack) doAs(ctx context.Context, apiKey string, req *http.Request) int {
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := s.http.Do(req.WithContext(ctx))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// get is a GET of path (with its query).
func (s *stack) get(ctx context.Context, path string) int {
	req, err := http.NewRequest(http.MethodGet, s.baseURL+path, nil)
	if err != nil {
		return 0
	}
	return s.do(ctx, req)
}
