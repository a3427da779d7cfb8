// Package queue is the asynq glue: task types, payloads, queue names, the
// client that enqueues idempotently, the reply channel that wakes waiting
// HTTP requests, and a slog adapter. No business logic lives here.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/telemetry"
)

// Task types.
const (
	TypeUpsert = "customer:upsert"
)

// Queue base names; a Namespace suffix isolates test runs sharing a Redis.
const (
	Critical = "critical" // POS upserts: answered while the caller waits
	Default  = "default"
	Imports  = "imports"  // bulk work, lowest weight so checkouts stay fast
	Suggest  = "suggest"  // fuzzy duplicate scoring: scans and incremental batches
	Webhooks = "webhooks" // deliveries to merchants' receivers, a pool of their own
)

// Names are the queue names in use.
type Names struct {
	Namespace string
}

func (n Names) name(base string) string {
	if n.Namespace == "" {
		return base
	}
	return base + "_" + n.Namespace
}

// Critical is the queue of upserts.
func (n Names) Critical() string { return n.name(Critical) }

// Default is the queue of ordinary background work.
func (n Names) Default() string { return n.name(Default) }

// Imports is the queue of import chunks.
func (n Names) Imports() string { return n.name(Imports) }

// Suggest is the queue of duplicate scoring (scans, incremental batches).
func (n Names) Suggest() string { return n.name(Suggest) }

// Webhooks is the queue of webhook deliveries.
func (n Names) Webhooks() string { return n.name(Webhooks) }

// Background are the queues a worker serves with one pool beside the
// upserts' (Critical, a pool of its own, polled more often): ordinary work
// before duplicate scoring. Imports and webhooks get pools of their own
// (see worker.Run).
func (n Names) Background() map[string]int {
	return map[string]int{n.Default(): 3, n.Suggest(): 2}
}

// All lists every queue.
func (n Names) All() []string {
	return []string{n.Critical(), n.Default(), n.Suggest(), n.Imports(), n.Webhooks()}
}

// RedisOpt parses a Redis URL: redis://, rediss://, redis-socket://,
// redis-sentinel://host1,host2?master=name and redis-cluster://host1,host2.
func RedisOpt(rawURL string) (asynq.RedisConnOpt, error) {
	if rest, ok := strings.CutPrefix(rawURL, "redis-cluster://"); ok {
		u, err := url.Parse("redis://" + rest)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		pw, _ := u.User.Password()
		return asynq.RedisClusterClientOpt{Addrs: strings.Split(u.Host, ","), Password: pw}, nil
	}
	opt, err := asynq.ParseRedisURI(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	return opt, nil
}

// NewRedis returns a go-redis client for the same connection options; with
// tracing on, its commands are spans (names only: arguments hold replies
// and keys with personal data).
func NewRedis(opt asynq.RedisConnOpt) redis.UniversalClient {
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	if telemetry.Enabled() {
		// Only unknown client types fail, and then commands go untraced.
		_ = redisotel.InstrumentTracing(rdb, redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false),
			redisotel.WithDialFilter(true))
	}
	return rdb
}

// UpsertPayload is an upsert task. The job row in PostgreSQL holds the same
// request, so a lost task is re-created from there.
type UpsertPayload struct {
	JobID   string          `json:"job_id"`
	OrgID   string          `json:"org_id"`
	ReplyTo string          `json:"reply_to,omitempty"` // channel of the waiting API process
	Request *dedupe.Request `json:"request"`
	// RequestHash is set when the API has not written the job row (a
	// waiting caller without an Idempotency-Key): the worker writes it,
	// completed, in the upsert's own transaction. See api.findOrCreate.
	RequestHash string `json:"request_hash,omitempty"`
	// RawRequest is Request's JSON, encoded once (rawrequest.go).
	RawRequest json.RawMessage `json:"-"`
}

// Client enqueues tasks.
type Client struct {
	c     *asynq.Client
	names Names
}

// NewClient wraps an asynq client.
func NewClient(opt asynq.RedisConnOpt, names Names) *Client {
	return &Client{c: asynq.NewClient(opt), names: names}
}

// Names are the queue names the client enqueues to.
func (c *Client) Names() Names { return c.names }

// Close releases the client.
func (c *Client) Close() error { return c.c.Close() }

// EnqueueUpsert queues an upsert under its job id. Enqueueing a job that is
// already queued, running or retrying is not an error: TaskID makes it a no-op.
func (c *Client) EnqueueUpsert(ctx context.Context, p UpsertPayload) error {
	_, err := c.RequeueUpsert(ctx, p)
	return err
}

// RequeueUpsert is EnqueueUpsert telling whether a task was created, i.e.
// whether Redis had lost the job's task.
func (c *Client) RequeueUpsert(ctx context.Context, p UpsertPayload) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode upsert task: %w", err)
	}
	opts := []asynq.Option{asynq.TaskID(p.JobID), asynq.Queue(c.names.Critical()),
		asynq.MaxRetry(8), asynq.Timeout(30 * time.Second)}
	if _, err := c.enqueue(ctx, TypeUpsert, body, opts...); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return false, nil
		}
		return false, fmt.Errorf("enqueue upsert %s: %w", p.JobID, err)
	}
	return true, nil
}

// Import task types.
const (
	TypeImportPlan  = "import:plan"
	TypeImportChunk = "import:chunk"
)

// ImportPayload names an import (plan) or one of its chunks.
type ImportPayload struct {
	OrgID    string `json:"org_id"`
	ImportID string `json:"import_id"`
	Chunk    int    `json:"chunk"`
}

// EnqueueImportPlan queues the grouping of a staged import into chunks;
// the plan task then queues the chunks. Re-enqueueing is harmless.
func (c *Client) EnqueueImportPlan(ctx context.Context, p ImportPayload) error {
	return c.enqueueImport(ctx, TypeImportPlan, importPlanTaskID(p.ImportID), p)
}

// EnqueueImportChunk queues the merge of one chunk.
func (c *Client) EnqueueImportChunk(ctx context.Context, p ImportPayload) error {
	return c.enqueueImport(ctx, TypeImportChunk, importChunkTaskID(p.ImportID, p.Chunk), p)
}

func importPlanTaskID(importID string) string { return importID + ":plan" }

func importChunkTaskID(importID string, chunk int) string {
	return fmt.Sprintf("%s:chunk:%d", importID, chunk)
}

func (c *Client) enqueueImport(ctx context.Context, typ, id string, p ImportPayload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode %s task: %w", typ, err)
	}
	// A duplicate of a finished task is harmless: PostgreSQL records which
	// chunks are merged.
	opts := []asynq.Option{asynq.TaskID(id), asynq.Queue(c.names.Imports()),
		asynq.MaxRetry(10), asynq.Timeout(10 * time.Minute)}
	if _, err := c.enqueue(ctx, typ, body, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s %s: %w", typ, id, err)
	}
	return nil
}

// TypeImportRevert undoes an import (a job: its row in PostgreSQL holds
// the request, and its progress is kept there, batch by batch).
const TypeImportRevert = "import:revert"

// RevertPayload is an import revert task.
type RevertPayload struct {
	JobID    string `json:"job_id"`
	OrgID    string `json:"org_id"`
	ImportID string `json:"import_id"`
}

// EnqueueImportRevert queues a revert under its job id on the default
// queue; it reports whether a task was created (false: one exists).
func (c *Client) EnqueueImportRevert(ctx context.Context, p RevertPayload) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode revert task: %w", err)
	}
	opts := []asynq.Option{asynq.TaskID(p.JobID), asynq.Queue(c.names.Default()),
		asynq.MaxRetry(10), asynq.Timeout(time.Hour)}
	if _, err := c.enqueue(ctx, TypeImportRevert, body, opts...); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return false, nil
		}
		return false, fmt.Errorf("enqueue revert %s: %w", p.JobID, err)
	}
	return true, nil
}
