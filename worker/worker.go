// Package worker runs the asynq task handlers. NewServeMux lists every task
// type in one place, like the API's routes.go.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/webhook"
)

// Deps are what the handlers need.
type Deps struct {
	Store   *postgres.Store
	Redis   redis.UniversalClient
	Client  *queue.Client
	Log     *slog.Logger
	Metrics *Metrics
	// Webhooks sends webhook deliveries; Run makes one from its Config
	// when nil.
	Webhooks *webhook.Sender
	// SuggestScanBacklog is the floor of the backlog rule: more customers
	// waiting to be scored than this and than a quarter of the
	// organization's are scored by one full scan (DefaultSuggestScanBacklog
	// when 0; docs/decisions.md).
	SuggestScanBacklog int
	// Activity tells whether API processes are busy; a duplicate scan then
	// waits after each of its long PostgreSQL statements, up to
	// SuggestScanYield times the time the statement took (0:
	// DefaultSuggestScanYield; negative or nil Activity: never waits).
	Activity         *queue.Activity
	SuggestScanYield int
	// ImportYield: while API processes are busy, an import chunk's task
	// waits up to this many times the chunk's time before it frees its
	// slot (0: DefaultImportYield; negative or nil Activity: never waits).
	ImportYield int
	// ImportWindow is how many of an import's chunks are queued at once
	// (Run sets four times Config.ImportConcurrency: one import keeps up to
	// four worker processes' import slots busy; 0: 8).
	ImportWindow int

	// scoreRest is when (unix ns) the incremental scorer's rest after its
	// last batches ends: until then a poll while an API process is busy
	// queues no scoring (see pollSuggestPending).
	scoreRest atomic.Int64
}

// NewServeMux registers every task handler.
func NewServeMux(d *Deps) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(traced)
	mux.HandleFunc(queue.TypeUpsert, d.handleUpsert)
	mux.HandleFunc(queue.TypeUpsertBatch, d.handleUpsertBatch)
	mux.HandleFunc(queue.TypeImportPlan, d.handleImportPlan)
	mux.HandleFunc(queue.TypeImportChunk, d.handleImportChunk)
	mux.HandleFunc(queue.TypeDuplicatesMerge, d.handleDuplicatesMerge)
	mux.HandleFunc(queue.TypeImportRevert, d.handleImportRevert)
	mux.HandleFunc(queue.TypeSuggestScan, d.handleSuggestScan)
	mux.HandleFunc(queue.TypeSuggestPending, d.handleSuggestPending)
	mux.HandleFunc(queue.TypeWebhookDeliver, d.handleWebhook)
	return mux
}

func (d *Deps) handleUpsert(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	var p queue.UpsertPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Request == nil {
		return fmt.Errorf("decode upsert payload: %v: %w", err, asynq.SkipRetry)
	}
	it := batchItem(p.JobID, p.Request, p.RequestHash, p.RawRequest)
	res, err := d.Store.RunUpsert(ctx, p.OrgID, it)
	if customer.ErrorCode(err) == customer.EGONE {
		// A late copy of a job erased since: dropped, not archived with
		// the payload the erasure removed everywhere else.
		d.Log.InfoContext(ctx, "upsert of an erased job dropped", "job_id", p.JobID)
		return nil
	}
	if err != nil {
		return d.failed(ctx, p.OrgID, it, p.ReplyTo, err)
	}
	d.Metrics.observeUpsert(res.Action, time.Since(start))
	body, err := res.MarshalPublished()
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	// The job is committed; a lost reply only makes the caller poll.
	if err := queue.Publish(ctx, d.Redis, p.ReplyTo, p.JobID, body); err != nil {
		d.Log.WarnContext(ctx, "reply not delivered", "job_id", p.JobID, "err", err)
	}
	return nil
}

// retryable reports whether a task that failed with err should be retried:
// domain errors (validation, a missing location…) never get better, others
// do until the last attempt. de is err's domain error when it is one.
func retryable(ctx context.Context, err error) (bool, *customer.Error) {
	var de *customer.Error
	permanent := errors.As(err, &de) && de.Code != customer.EUNAVAILABLE && de.Code != customer.EINTERNAL
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if !permanent && retried < maxRetry {
		return true, nil
	}
	if !permanent {
		de = nil
	}
	return false, de
}

// failJob retries err's task, or, when it should not be retried, marks the
// job failed with a readable reply (returned) and ends the task for good.
func (d *Deps) failJob(ctx context.Context, orgID, jobID string, err error) ([]byte, error) {
	return d.failUpsertJob(ctx, orgID, postgres.BatchItem{JobID: jobID}, err)
}

// failUpsertJob is failJob for an upsert, whose job row may be the
// worker's to write (BatchItem.NewJob).
func (d *Deps) failUpsertJob(ctx context.Context, orgID string, it postgres.BatchItem, err error) ([]byte, error) {
	jobID := it.JobID
	retry, de := retryable(ctx, err)
	if retry {
		return nil, err
	}
	reply := postgres.ErrorReply(&customer.Error{Code: customer.EINTERNAL, Message: "Internal error"})
	if de != nil {
		reply = postgres.ErrorReply(de)
	}
	msg, _ := json.Marshal(reply)
	if ferr := d.Store.FailUpsertJob(context.WithoutCancel(ctx), orgID, it, string(msg)); ferr != nil {
		return nil, fmt.Errorf("mark job %s failed: %w (after %v)", jobID, ferr, err)
	}
	return msg, fmt.Errorf("job %s failed: %w: %w", jobID, err, asynq.SkipRetry)
}

// failed is failJob for an upsert: a failed job is counted and its waiting
// API process told.
func (d *Deps) failed(ctx context.Context, orgID string, it postgres.BatchItem, replyTo string, err error) error {
	jobID := it.JobID
	msg, ferr := d.failUpsertJob(ctx, orgID, it, err)
	if msg == nil {
		return ferr
	}
	d.Metrics.observeUpsert("failed", 0)
	if perr := queue.Publish(ctx, d.Redis, replyTo, jobID, msg); perr != nil {
		d.Log.WarnContext(ctx, "reply not delivered", "job_id", jobID, "err", perr)
	}
	return ferr
}

// Reconcile re-enqueues jobs PostgreSQL holds as queued but that have
// waited longer than age: after a Redis flush or failover their tasks are
// gone. TaskID makes re-enqueueing a job whose task still exists a no-op,
// and a job inside an upsert batch Redis still holds is left to it; it
// returns how many tasks it actually re-created. A job it cannot
// re-create is skipped, never a stop for the others.
func (d *Deps) Reconcile(ctx context.Context, age time.Duration) (int, error) {
	jobs, err := d.Store.StaleJobs(ctx, time.Now().Add(-age), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	var batched map[string]bool
	if slices.ContainsFunc(jobs, func(j *customer.Job) bool { return j.Type == queue.TypeUpsert }) {
		// Jobs travelling in a batch Redis still holds are not lost.
		if batched, err = queue.BatchedJobs(asynq.NewInspectorFromRedisClient(d.Redis), d.Client.Names()); err != nil {
			return 0, err
		}
	}
	for _, j := range jobs {
		if j.Type == queue.TypeDuplicatesMerge || j.Type == queue.TypeImportRevert {
			requeue := d.requeueDuplicatesMerge
			if j.Type == queue.TypeImportRevert {
				requeue = d.requeueRevert
			}
			created, err := requeue(ctx, j)
			if err != nil {
				errs = append(errs, err)
			} else if created {
				n++
			}
			continue
		}
		if j.Type == queue.TypeSuggestScan {
			if err := d.Client.EnqueueSuggestScan(ctx, queue.SuggestPayload{OrgID: j.OrganizationID, JobID: j.ID}); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if j.Type != queue.TypeUpsert || batched[j.ID] {
			continue
		}
		var p queue.UpsertPayload
		if err := json.Unmarshal(j.Payload, &p.Request); err != nil {
			errs = append(errs, fmt.Errorf("job %s payload: %w", j.ID, err))
			continue
		}
		p.JobID, p.OrgID = j.ID, j.OrganizationID
		created, err := d.Client.RequeueUpsert(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if created {
			n++
		}
	}
	return n, errors.Join(errs...)
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
	// UploadTimeout fails an import still reading its upload this long
	// after its last update (default 1h): its API process died or its
	// client vanished, and nothing else would ever end it.
	UploadTimeout time.Duration
	// RetentionJobs is how long finished jobs (their requests and results
	// hold personal data) are kept (default 30 days; negative: forever).
	RetentionJobs time.Duration
	// RetentionImportErrors is how long a finished import keeps its error
	// report (raw cells) (default 90 days; negative: forever).
	RetentionImportErrors time.Duration
	// RetentionImportChanges is how long a finished import keeps its
	// before-images, the window in which it can be reverted (default 30
	// days; negative: forever).
	RetentionImportChanges time.Duration
	// WebhookConcurrency is how many webhook deliveries run at once (default
	// 4), in a pool of their own: slow receivers cannot hold up checkouts.
	WebhookConcurrency int
	// WebhookRetryDelays are the waits before each retry of a failed
	// delivery (default DefaultWebhookRetryDelays, about a day).
	WebhookRetryDelays []time.Duration
	// WebhookTimeout bounds one delivery attempt (default 10 s).
	WebhookTimeout time.Duration
	// WebhooksAllowPrivate lets deliveries reach private and loopback
	// addresses (LINKIT_WEBHOOKS_ALLOW_PRIVATE).
	WebhooksAllowPrivate bool
	// WebhookPoll is how often the outbox is polled for new events
	// (default 1 s).
	WebhookPoll time.Duration
	// WebhookRequeueAge is how long a queued, undelivered outbox row waits
	// before it is queued again in case its task was lost (default 2 min).
	WebhookRequeueAge time.Duration
	// SuggestPoll is how often suggest_pending is polled for customers to
	// score (default 20 ms: a probe of its primary key per organization
	// waiting; at 1 s the wait was the whole of change-to-scored latency).
	SuggestPoll time.Duration
	// UpsertPoll is how often an idle worker looks for upserts (asynq's
	// TaskCheckInterval of a pool serving only their queue; default
	// DefaultUpsertPoll).
	UpsertPoll time.Duration
}

// Poll intervals of the pools (asynq sleeps between half and one and a
// half of it after finding its queues empty; each look is one Redis
// script per queue).
const (
	// DefaultUpsertPoll: a checkout's task waits ~0.55 × this on average
	// for an idle worker to see it (at 5 ms, 2.7 ms: a third of an idle
	// upsert's latency). 1 ms saves ~0.5 ms more for twice the idle
	// polls' CPU (docs/benchmarks.md).
	DefaultUpsertPoll = 2 * time.Millisecond
	// backgroundPoll is the other interactive queues' (duplicate scoring,
	// merges, erasure): nobody waits on their milliseconds, and their
	// slower polls pay for most of the upserts' faster one.
	backgroundPoll = 10 * time.Millisecond
)

// Retention defaults (docs/operations.md).
const (
	DefaultRetentionJobs          = 30 * 24 * time.Hour
	DefaultRetentionImportErrors  = 90 * 24 * time.Hour
	DefaultRetentionImportChanges = 30 * 24 * time.Hour
	// retentionBatch is how many rows one reconcile tick deletes per kind.
	retentionBatch = 10000
)

// stagingPurgeBatch is how many staged rows one reconcile tick deletes.
const stagingPurgeBatch = 50000

// idempotencyPurgeBatch bounds the expired Idempotency-Keys one tidy-up
// deletes; more go at the next.
const idempotencyPurgeBatch = 10000

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
	if d.ImportWindow <= 0 {
		d.ImportWindow = 4 * cfg.ImportConcurrency
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = time.Hour
	}
	if cfg.RetentionJobs == 0 {
		cfg.RetentionJobs = DefaultRetentionJobs
	}
	if cfg.RetentionImportErrors == 0 {
		cfg.RetentionImportErrors = DefaultRetentionImportErrors
	}
	if cfg.RetentionImportChanges == 0 {
		cfg.RetentionImportChanges = DefaultRetentionImportChanges
	}
	if cfg.WebhookConcurrency <= 0 {
		cfg.WebhookConcurrency = 4
	}
	if len(cfg.WebhookRetryDelays) == 0 {
		cfg.WebhookRetryDelays = DefaultWebhookRetryDelays
	}
	if cfg.WebhookPoll <= 0 {
		cfg.WebhookPoll = time.Second
	}
	if cfg.WebhookRequeueAge <= 0 {
		cfg.WebhookRequeueAge = webhookRequeueAge
	}
	if cfg.SuggestPoll <= 0 {
		cfg.SuggestPoll = 20 * time.Millisecond
	}
	if cfg.UpsertPoll <= 0 {
		cfg.UpsertPoll = DefaultUpsertPoll
	}
	if d.Webhooks == nil {
		d.Webhooks = webhook.NewSender(cfg.WebhookTimeout, cfg.WebhooksAllowPrivate)
	}
	base := asynq.Config{
		// Retries are short (see RetryDelayFunc); check for due ones often.
		DelayedTaskCheckInterval: 250 * time.Millisecond,
		ShutdownTimeout:          20 * time.Second,
		Logger:                   queue.Logger{L: d.Log},
		LogLevel:                 asynq.WarnLevel,
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			if t.Type() == queue.TypeWebhookDeliver {
				return cfg.WebhookRetryDelays[min(n, len(cfg.WebhookRetryDelays)-1)]
			}
			return min(time.Duration(1<<min(n, 6))*250*time.Millisecond, 30*time.Second)
		},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			d.Log.WarnContext(ctx, "task failed", "task_type", t.Type(), "task_id", id, "retried", retried, "err", err)
		}),
	}
	// Pools: upserts never wait behind import chunks, and chunks never
	// run more at once than PostgreSQL can use.
	upserts, background, bulk, hooks := base, base, base, base
	// Upserts alone, polled often: a POS checkout waits for the poll. The
	// two share Concurrency (a quarter, at least two, for the rest), so
	// the tasks using the database at once stay as many as before.
	background.Concurrency = max(2, cfg.Concurrency/4)
	upserts.Concurrency = max(1, cfg.Concurrency-background.Concurrency)
	upserts.Queues, upserts.TaskCheckInterval = map[string]int{cfg.Names.Critical(): 1}, cfg.UpsertPoll
	background.Queues, background.TaskCheckInterval = cfg.Names.Background(), backgroundPoll
	bulk.Concurrency, bulk.Queues = cfg.ImportConcurrency, map[string]int{cfg.Names.Imports(): 1}
	bulk.TaskCheckInterval = 100 * time.Millisecond
	// Webhooks: a pool of their own, so receivers that answer slowly (up to the
	// sender's timeout) hold only these goroutines.
	hooks.Concurrency, hooks.Queues = cfg.WebhookConcurrency, map[string]int{cfg.Names.Webhooks(): 1}
	hooks.TaskCheckInterval = 100 * time.Millisecond
	mux := NewServeMux(d)
	var servers []*asynq.Server
	for _, c := range []asynq.Config{upserts, background, bulk, hooks} {
		srv := asynq.NewServer(opt, c)
		if err := srv.Start(mux); err != nil {
			for _, s := range servers {
				s.Shutdown()
			}
			return fmt.Errorf("start worker: %w", err)
		}
		servers = append(servers, srv)
	}
	d.Log.Info("worker started", "concurrency", cfg.Concurrency, "upsert_concurrency", upserts.Concurrency, "import_concurrency", cfg.ImportConcurrency, "queues", cfg.Names.All())
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	tick := time.NewTicker(cfg.ReconcileEvery)
	defer tick.Stop()
	// Lost work is looked for more often than the rest is tidied: a killed
	// worker's upserts are POS checkouts waiting.
	lostEvery := min(cfg.ReconcileEvery, 2*time.Second)
	lost := time.NewTicker(lostEvery)
	defer lost.Stop()
	// New and changed customers are scored within tens of milliseconds.
	suggest := time.NewTicker(cfg.SuggestPoll)
	defer suggest.Stop()
	hooksPoll := time.NewTicker(cfg.WebhookPoll)
	defer hooksPoll.Stop()
	for {
		select {
		case <-ctx.Done():
			d.Log.Info("worker stopping: finishing in-flight tasks")
			for _, srv := range servers {
				srv.Shutdown()
			}
			return nil
		case <-lost.C:
			if n, err := queue.RecoverOrphans(ctx, d.Redis, inspector, cfg.Names); err != nil {
				d.Log.Warn("recover tasks of dead workers", "err", err, "requeued", n)
			} else if n > 0 {
				d.Log.Info("requeued tasks of dead workers", "count", n)
			}
			// Chunks can legitimately run for a while; without lost tasks
			// imports get more slack.
			r, err := d.reconcileImports(ctx, lostEvery, 4*cfg.ReconcileAge)
			if err != nil {
				d.Log.Warn("reconcile imports", "err", err)
			}
			if r.lost > 0 || r.idle > 0 {
				d.Log.Info("re-planned imports", "tasks_lost", r.lost, "no_progress", r.idle)
			}
		case <-suggest.C:
			if err := d.pollSuggestPending(ctx); err != nil {
				d.Log.Warn("queue duplicate scoring", "err", err)
			}
		case <-hooksPoll.C:
			if _, err := d.DispatchWebhooks(ctx, time.Now().Add(-cfg.WebhookRequeueAge)); err != nil {
				d.Log.Warn("dispatch webhooks", "err", err)
			}
		case <-tick.C:
			d.reconcile(ctx, cfg)
			d.purgeExpired(ctx, cfg, inspector)
		}
	}
}

// reconcile re-derives from PostgreSQL the jobs Redis lost and tidies up;
// each step logs what it changed, and a failing step does not skip the next.
func (d *Deps) reconcile(ctx context.Context, cfg Config) {
	if n, err := d.Reconcile(ctx, cfg.ReconcileAge); err != nil {
		d.Log.Warn("reconcile jobs", "err", err, "requeued", n)
	} else if n > 0 {
		d.Log.Info("requeued jobs whose tasks were lost", "count", n)
	}
	if err := d.Store.TidySearchIndex(ctx); err != nil {
		d.Log.Warn("flush search index", "err", err)
	}
	reason := fmt.Sprintf("The upload did not finish within %s (the connection or the server was lost); upload the file again", cfg.UploadTimeout)
	if n, err := d.Store.FailExpiredUploads(ctx, time.Now().Add(-cfg.UploadTimeout), reason); err != nil {
		d.Log.Warn("fail expired uploads", "err", err)
	} else if n > 0 {
		d.Log.Info("failed uploads that never finished", "count", n, "timeout", cfg.UploadTimeout.String())
	}
	if n, err := d.Store.PurgeIdempotencyKeys(ctx, idempotencyPurgeBatch); err != nil {
		d.Log.Warn("purge idempotency keys", "err", err)
	} else if n > 0 {
		d.Log.Debug("purged expired idempotency keys", "count", n)
	}
	if n, err := d.Store.PurgeWebhookHistory(ctx, time.Now().Add(-webhookRetention), idempotencyPurgeBatch); err != nil {
		d.Log.Warn("purge webhook history", "err", err)
	} else if n > 0 {
		d.Log.Debug("purged webhook events and delivery log", "count", n)
	}
	if n, err := d.Store.PurgeImportStaging(ctx, time.Now().Add(-max(cfg.StagingTTL, 0)), stagingPurgeBatch); err != nil {
		d.Log.Warn("purge import staging", "err", err)
	} else if n > 0 {
		d.Log.Debug("purged staged import rows", "count", n)
	}
}

// purgeExpired applies the retention windows, a batch per tick. The
// queue's archive (failed tasks, their payloads) follows the jobs' window.
func (d *Deps) purgeExpired(ctx context.Context, cfg Config, insp *asynq.Inspector) {
	if cfg.RetentionJobs > 0 {
		before := time.Now().Add(-cfg.RetentionJobs)
		if n, err := d.Store.PurgeJobs(ctx, before, retentionBatch); err != nil {
			d.Log.Warn("purge expired jobs", "err", err)
		} else if n > 0 {
			d.Log.Info("purged expired jobs", "count", n, "retention", cfg.RetentionJobs.String())
		}
		if n, err := queue.PurgeArchived(insp, cfg.Names, before, 100); err != nil {
			d.Log.Warn("purge expired archived tasks", "err", err)
		} else if n > 0 {
			d.Log.Info("purged expired archived tasks", "count", n, "retention", cfg.RetentionJobs.String())
		}
	}
	if cfg.RetentionImportErrors > 0 {
		if n, err := d.Store.PurgeImportErrors(ctx, time.Now().Add(-cfg.RetentionImportErrors), retentionBatch); err != nil {
			d.Log.Warn("purge expired import errors", "err", err)
		} else if n > 0 {
			d.Log.Info("purged expired import errors", "count", n, "retention", cfg.RetentionImportErrors.String())
		}
	}
	if cfg.RetentionImportChanges > 0 {
		if n, err := d.Store.PurgeImportChanges(ctx, time.Now().Add(-cfg.RetentionImportChanges), retentionBatch); err != nil {
			d.Log.Warn("purge expired import before-images", "err", err)
		} else if n > 0 {
			d.Log.Info("purged expired import before-images", "count", n, "retention", cfg.RetentionImportChanges.String())
		}
	}
}
