package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linkitworks/customers/api"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/telemetry"
	"github.com/linkitworks/customers/webapp"
	"github.com/linkitworks/customers/worker"
)

func migrate(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := postgres.Migrate(ctx, cfg.migrateURL()); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied to", postgres.Redact(cfg.migrateURL()))
	return nil
}

// roles says which parts a process runs.
type roles struct {
	api, worker, migrate bool
}

// serve runs the API and/or the workers until ctx ends, then drains: the API
// finishes in-flight requests, workers finish or hand back their tasks.
func serve(ctx context.Context, cfg config, r roles, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	// Before anything is built: the store, the queue and the API add their
	// instrumentation only when tracing is on.
	stopTracing, err := telemetry.Setup(ctx, os.Getenv, version)
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("flush traces", "err", err)
		}
	}()
	if telemetry.Enabled() {
		log.Info("tracing on: exporting spans over OTLP/HTTP")
	}
	if r.migrate {
		if err := postgres.Migrate(ctx, cfg.migrateURL()); err != nil {
			return err
		}
	}
	store, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: int32(cfg.DBMaxConns), ChunkRows: cfg.ImportChunkRows,
		StageConns: int32(cfg.DBStageConns), FuzzyScanMemory: int64(cfg.SuggestScanMemoryMB) << 20,
		FuzzyScanWorkers: cfg.SuggestScanWorkers, FuzzyScanNice: cmp.Or(cfg.SuggestScanNice, -1)})
	if err != nil {
		return err
	}
	defer store.Close()
	redisOpt, err := queue.RedisOpt(cfg.RedisURL)
	if err != nil {
		return err
	}
	rdb := queue.NewRedis(redisOpt)
	defer rdb.Close()
	names := queue.Names{Namespace: cfg.QueueNamespace}
	client := queue.NewClient(redisOpt, names)
	defer client.Close()
	reg := prometheus.NewRegistry()
	// API processes publish when they are busy; workers' scans make way.
	activity := queue.NewActivity(rdb, names)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	if r.worker {
		deps := &worker.Deps{Store: store, Redis: rdb, Client: client, Log: log, Metrics: worker.NewMetrics(reg),
			SuggestScanBacklog: cfg.SuggestScanBacklog, Activity: activity, SuggestScanYield: cmp.Or(cfg.SuggestScanYield, -1),
			ImportYield: cmp.Or(cfg.ImportYield, -1)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := worker.Run(ctx, worker.Config{Concurrency: cfg.WorkerConcurrency, ImportConcurrency: cfg.ImportConcurrency, Names: names,
				StagingTTL: cfg.ImportStagingTTL, UploadTimeout: cfg.UploadTimeout, WebhooksAllowPrivate: cfg.WebhooksAllowPrivate,
				RetentionJobs: cfg.RetentionJobs, RetentionImportErrors: cfg.RetentionImportErrors,
				RetentionImportChanges: cfg.RetentionImportChanges, UpsertPoll: cfg.UpsertPoll}, redisOpt, deps); err != nil {
				errc <- err
			}
		}()
	}
	checks := []api.Check{
		{Name: "postgres", Ping: store.Ping},
		{Name: "redis", Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
	}
	if r.worker && !r.api && cfg.WorkerHTTPAddr != "" {
		// A worker alone still answers probes and scrapes.
		inspector := asynq.NewInspector(redisOpt)
		defer inspector.Close()
		probes := api.NewProbeServer(api.Config{AdminToken: cfg.AdminToken, MetricsPublic: cfg.MetricsPublic},
			api.Deps{Log: log, Registry: reg, Checks: checks, Inspector: inspector, Names: names})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveHTTP(ctx, cfg.WorkerHTTPAddr, cfg.HTTP, probes, log); err != nil {
				errc <- err
			}
		}()
	}
	if r.api {
		wg.Go(func() { activity.Run(ctx) })
		inspector := asynq.NewInspector(redisOpt)
		defer inspector.Close()
		handler := api.NewServer(
			api.Config{AdminToken: cfg.AdminToken, AuthCacheTTL: cfg.AuthCacheTTL, MetricsPublic: cfg.MetricsPublic,
				MaxImportBytes: cfg.MaxImportBytes, ImportLimits: cfg.ImportLimits,
				ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout,
				UploadProgressTimeout: cfg.UploadProgressTimeout, MaxUploads: cfg.MaxUploads, MaxUploadsPerOrg: cfg.MaxUploadsPerOrg,
				RateLimits: cfg.RateLimits, WebhooksAllowPrivate: cfg.WebhooksAllowPrivate,
				UpsertLinger: cfg.UpsertLinger, UpsertBatchMax: cfg.UpsertBatchMax},
			api.Deps{
				Store: store, Log: log, Queue: client, Inspector: inspector, Names: names,
				Replies: queue.NewReplies(ctx, rdb, names, log), RedisOpt: redisOpt, Registry: reg,
				OrgChanges: queue.NewOrgChanges(ctx, rdb, names, log),
				Checks:     checks, RateLimitRedis: rdb, Activity: activity,
			})
		// The merchant web app shares the port: /app/, and / redirects there.
		web := webapp.Mount(webapp.New(webapp.Config{}, handler, store, log), handler)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveHTTP(ctx, cfg.HTTPAddr, cfg.HTTP, web, log); err != nil {
				errc <- err
			}
		}()
	}
	select {
	case err = <-errc:
		cancel()
	case <-ctx.Done():
	}
	wg.Wait()
	log.Info("stopped")
	return err
}

// drainTimeout is how long a stopping API finishes in-flight requests; a
// container's stop grace period must be longer (containers_test.go).
const drainTimeout = 25 * time.Second

// serveHTTP listens until ctx ends, then drains in-flight requests.
func serveHTTP(ctx context.Context, addr string, limits httpLimits, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
