package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/dedupe"
)

// TypeUpsertBatch carries upserts that arrived together at one API process
// (see Coalescer): one task, applied by the worker in one transaction.
const TypeUpsertBatch = "customer:upsert-batch"

// UpsertItem is one request of a batch: its own job and request.
type UpsertItem struct {
	JobID       string          `json:"job_id"`
	Request     *dedupe.Request `json:"request"`
	RequestHash string          `json:"request_hash,omitempty"` // as UpsertPayload's
}

// UpsertBatchPayload is an upsert batch task, items in arrival order. Each
// item's job row holds its request too (once written: see
// UpsertPayload.RequestHash), so a lost batch is re-created job by job (as
// single upserts) from PostgreSQL.
type UpsertBatchPayload struct {
	OrgID   string       `json:"org_id"`
	ReplyTo string       `json:"reply_to,omitempty"`
	Items   []UpsertItem `json:"items"`
}

// batchTaskID names a batch after its first job: a job travels in one
// batch only, so the id is unique, and it leads from a task to its jobs.
func batchTaskID(p UpsertBatchPayload) string { return "batch:" + p.Items[0].JobID }

// EnqueueUpsertBatch queues a batch on the upserts' queue.
func (c *Client) EnqueueUpsertBatch(ctx context.Context, p UpsertBatchPayload) error {
	if len(p.Items) == 0 {
		return nil
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode upsert batch: %w", err)
	}
	if _, err := c.enqueue(ctx, TypeUpsertBatch, body, asynq.TaskID(batchTaskID(p)), asynq.Queue(c.names.Critical()),
		asynq.MaxRetry(8), asynq.Timeout(30*time.Second)); err != nil {
		return fmt.Errorf("enqueue upsert batch %s: %w", batchTaskID(p), err)
	}
	return nil
}
