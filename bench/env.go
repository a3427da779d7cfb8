package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/worker"
)

// stack is the service running in-process as `linkit all` runs it: one
// store (one pool) shared by the API and the worker, a real listener.
type stack struct {
	cfg       config
	store     *postgres.Store
	opt       asynq.RedisConnOpt
	rdb       redis.UniversalClient
	names     queue.Names
	client    *queue.Client
	inspector *asynq.Inspector
	srv       *http.Server
	baseURL   string
	http      *http.Client
	apiKey    string

	cancel        context.CancelFunc
	workerStop    func()
	workerStarted bool
}

var discardLog = slog.New(slog.DiscardHandler)

func startStack(ctx context.Context, cfg config, apiKey string) (*stack, error) {
	store, err := postgres.Open(ctx, cfg.databaseURL, postgres.Options{MaxConns: int32(cfg.dbMaxConns), ChunkRows: cfg.importChunkRows})
	if err != nil {
		return nil, err
	}
	opt, err := queue.RedisOpt(cfg.redisURL)
	if err != nil {
		store.Close()
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &stack{cfg: cfg, store: store, opt: opt, rdb: queue.NewRedis(opt), apiKey: apiKey,
		names: queue.Names{Namespace: "bench" + hex.EncodeToString(b)}, workerStop: func() {}}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	s.client = queue.NewClient(opt, s.names)
	s.inspector = asynq.NewInspector(opt)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	h := api.NewServer(api.Config{AdminToken: "bench-admin", AuthCacheTTL: 10 * time.Second}, api.Deps{
		Store: store, Queue: s.client, Inspector: s.inspector, Names: s.names, RedisOpt: opt,
		Replies: queue.NewReplies(sctx, s.rdb, s.names, discardLog),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	s.baseURL = "http://" + ln.Addr().String()
	s.http = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute,
			DisableCompression: true,
		},
	}
	return s, nil
}

// startWorker runs worker.Run in-process on the stack's queue namespace
// (once: later calls keep the running worker).
func (s *stack) startWorker() {
	if s.workerStarted {
		return
	}
	s.workerStarted = true
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	deps := &worker.Deps{Store: s.store, Redis: s.rdb, Client: s.client, Log: discardLog}
	wg.Go(func() {
		cfg := worker.Config{Concurrency: s.cfg.workerConcurrency, ImportConcurrency: s.cfg.importConcurrency, Names: s.names}
		if err := worker.Run(ctx, cfg, s.opt, deps); err != nil {
			fmt.Println("bench: worker:", err)
		}
	})
	s.workerStop = func() { cancel(); wg.Wait() }
}

func (s *stack) close() {
	s.workerStop()
	if s.srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.srv.Shutdown(sctx)
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.inspector != nil {
		for _, q := range s.names.All() {
			_ = s.inspector.DeleteQueue(q, true)
		}
		s.inspector.Close()
	}
	if s.client != nil {
		s.client.Close()
	}
	s.rdb.Close()
	s.store.Close()
}

// do sends one request and reports its status (0 on transport error).
func (s *stack) do(ctx context.Context, req *http.Request) int {
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
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

// check fails when the API does not answer a known request as expected.
func (s *stack) check(ctx context.Context, path string, want int) error {
	if got := s.get(ctx, path); got != want {
		return fmt.Errorf("GET %s: status %d, want %d", path, got, want)
	}
	return nil
}
