// Package worker runs the asynq task handlers. NewServeMux lists every task
// type in one place, like the API's routes.go.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// Deps are what the handlers need.
type Deps struct {
	Store   *postgres.Store
	Redis   redis.UniversalClient
	Client  *queue.Client
	Log     *slog.Logger
	Metrics *Metrics
}

// NewServeMux registers every task handler.
func NewServeMux(d *Deps) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeUpsert, d.handleUpsert)
	mux.HandleFunc(queue.TypeImportPlan, d.handleImportPlan)
	mux.HandleFunc(queue.TypeImportChunk, d.handleImportChunk)
	return mux
}

func (d *Deps) handleUpsert(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	var p queue.UpsertPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Request == nil {
		return fmt.Errorf("decode upsert payload: %v: %w", err, asynq.SkipRetry)
	}
	res, err := d.Store.RunUpsert(ctx, p.OrgID, p.JobID, p.Request)
	if err != nil {
		return d.failed(ctx, p.OrgID, p.JobID, p.ReplyTo, err)
	}
	d.Metrics.observeUpsert(res.Action, time.Since(start))
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	// The job is committed; a lost reply only makes the caller poll.
	if err := queue.Publish(ctx, d.Redis, p.ReplyTo, p.JobID, body); err != nil {
		d.Log.WarnContext(ctx, "reply not delivered", "job_id", p.JobID, "err", err)
	}
	return nil
}

// failed decides between retrying and failing a job for good. Domain errors
// (validation, missing location) never get better with retries; others do
// until the last attempt, after which the job is marked failed.
func (d *Deps) failed(ctx context.Context, orgID, jobID, replyTo string, err error) error {
	var de *customer.Error
	permanent := errors.As(err, &de) && de.Code != customer.EUNAVAILABLE && de.Code != customer.EINTERNAL
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if !permanent && retried < maxRetry {
		return err
	}
	reply := postgres.ErrorReply(&customer.Error{Code: customer.EINTERNAL, Message: "Internal error"})
	if permanent {
		reply = postgres.ErrorReply(de)
	}
	msg, _ := json.Marshal(reply)
	if ferr := d.Store.FailJob(context.WithoutCancel(ctx), orgID, jobID, string(msg)); ferr != nil {
		return fmt.Errorf("mark job %s failed: %w (after %v)", jobID, ferr, err)
	}
	d.Metrics.observeUpsert("failed", 0)
	if perr := queue.Publish(ctx, d.Redis, replyTo, jobID, msg); perr != nil {
		d.Log.WarnContext(ctx, "reply not delivered", "job_id", jobID, "err", perr)
	}
	return fmt.Errorf("job %s failed: %w: %w", jobID, err, asynq.SkipRetry)
}

// Reconcile re-enqueues jobs PostgreSQL holds as queued but that have
// waited longer than age: after a Redis flush or failover their tasks are
// gone. TaskID makes re-enqueueing a job whose task still exists a no-op.
func (d *Deps) Reconcile(ctx context.Context, age time.Duration) (int, error) {
	jobs, err := d.Store.StaleJobs(ctx, time.Now().Add(-age), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if j.Type != queue.TypeUpsert {
			continue
		}
		var p queue.UpsertPayload
		if err := json.Unmarshal(j.Payload, &p.Request); err != nil {
			return n, fmt.Errorf("job %s payload: %w", j.ID, err)
		}
		p.JobID, p.OrgID = j.ID, j.OrganizationID
		if err := d.Client.EnqueueUpsert(ctx, p); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Config tunes the worker server.
type Config struct {
	Concurrency int
	// ImportConcurrency is how many import chunks merge at once (default 2):
	// chunks are CPU-heavy in PostgreSQL, and more than the database's cores
	// only adds contention.
	ImportConcurrency int
	Names             queue.Names
	// ReconcileEvery and ReconcileAge drive the re-derivation of lost tasks.
	ReconcileEvery time.Duration
	ReconcileAge   time.Duration
	// StagingTTL is how long the staged rows of a finished import are kept
	// (default 1h; negative: purge at once).
	StagingTTL time.Duration
}

// stagingPurgeBatch is how many staged rows one reconcile tick deletes.
const stagingPurgeBatch = 50000

// Run processes tasks until ctx ends, then hands back in-flight work:
// asynq's Shutdown waits for running handlers and re-queues the rest.
func Run(ctx context.Context, cfg Config, opt asynq.RedisConnOpt, d *Deps) error {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 5 * time.Second
	}
	if cfg.ReconcileAge <= 0 {
		cfg.ReconcileAge = 15 * time.Second
	}
	if cfg.StagingTTL == 0 {
		cfg.StagingTTL = time.Hour
	}
	if cfg.ImportConcurrency <= 0 {
		cfg.ImportConcurrency = 2
	}
	base := asynq.Config{
		TaskCheckInterval: 5 * time.Millisecond, // the default 1 s would dominate POS latency
		// Retries are short (see RetryDelayFunc); check for due ones often.
		DelayedTaskCheckInterval: 250 * time.Millisecond,
		ShutdownTimeout:          20 * time.Second,
		Logger:                   queue.Logger{L: d.Log},
		LogLevel:                 asynq.WarnLevel,
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			return min(time.Duration(1<<min(n, 6))*250*time.Millisecond, 30*time.Second)
		},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			d.Log.WarnContext(ctx, "task failed", "task_type", t.Type(), "task_id", id, "retried", retried, "err", err)
		}),
	}
	// Two pools: upserts never wait behind import chunks, and chunks never
	// run more at once than PostgreSQL can use.
	interactive, bulk := base, base
	interactive.Concurrency, interactive.Queues = cfg.Concurrency, cfg.Names.Interactive()
	bulk.Concurrency, bulk.Queues = cfg.ImportConcurrency, map[string]int{cfg.Names.Imports(): 1}
	bulk.TaskCheckInterval = 100 * time.Millisecond
	mux := NewServeMux(d)
	var servers []*asynq.Server
	for _, c := range []asynq.Config{interactive, bulk} {
		srv := asynq.NewServer(opt, c)
		if err := srv.Start(mux); err != nil {
			for _, s := range servers {
				s.Shutdown()
			}
			return fmt.Errorf("start worker: %w", err)
		}
		servers = append(servers, srv)
	}
	d.Log.Info("worker started", "concurrency", cfg.Concurrency, "import_concurrency", cfg.ImportConcurrency, "queues", cfg.Names.All())
	tick := time.NewTicker(cfg.ReconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.Log.Info("worker stopping: finishing in-flight tasks")
			for _, srv := range servers {
				srv.Shutdown()
			}
			return nil
		case <-tick.C:
			if n, err := d.Reconcile(ctx, cfg.ReconcileAge); err != nil {
				d.Log.Warn("reconcile", "err", err)
			} else if n > 0 {
				d.Log.Info("re-enqueued queued jobs", "count", n)
			}
			if err := d.Store.TidySearchIndex(ctx); err != nil {
				d.Log.Warn("flush search index", "err", err)
			}
			// Chunks can legitimately run for a while; imports get more slack.
			if n, err := d.reconcileImports(ctx, 4*cfg.ReconcileAge); err != nil {
				d.Log.Warn("reconcile imports", "err", err)
			} else if n > 0 {
				d.Log.Info("re-planned stalled imports", "count", n)
			}
			if n, err := d.Store.PurgeImportStaging(ctx, time.Now().Add(-max(cfg.StagingTTL, 0)), stagingPurgeBatch); err != nil {
				d.Log.Warn("purge import staging", "err", err)
			} else if n > 0 {
				d.Log.Debug("purged staged import rows", "count", n)
			}
		}
	}
}
