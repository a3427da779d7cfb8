package queue

import (
	"context"
	"encoding/json"
	"errors"
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
	RawRequest  json.RawMessage `json:"-"`                      // as UpsertPayload's
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
	body, err := marshalBatch(p)
	if err != nil {
		return fmt.Errorf("encode upsert batch: %w", err)
	}
	if _, err := c.enqueue(ctx, TypeUpsertBatch, body, asynq.TaskID(batchTaskID(p)), asynq.Queue(c.names.Critical()),
		asynq.MaxRetry(8), asynq.Timeout(30*time.Second)); err != nil {
		return fmt.Errorf("enqueue upsert batch %s: %w", batchTaskID(p), err)
	}
	return nil
}

// BatchedJobs returns the jobs of the upsert batches the upserts' queue still
// holds (scheduled, pending, running or retrying). Their task is named after
// the batch's first job only, so the reconciler cannot tell them from lost
// jobs by id: without this it re-created a live batch's jobs as single tasks
// (a killed worker's batch before its recovery, a backlog older than the
// reconcile age), work done twice and a log that said Redis lost them.
func BatchedJobs(insp *asynq.Inspector, names Names) (map[string]bool, error) {
	const pageSize = 1000
	q := names.Critical()
	jobs := map[string]bool{}
	// In the order tasks move (scheduled → pending → active → retry), so one
	// that moves while listed is seen at least once, most often.
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		insp.ListScheduledTasks, insp.ListPendingTasks, insp.ListActiveTasks, insp.ListRetryTasks,
	} {
		for page := 1; ; page++ {
			tasks, err := list(q, asynq.PageSize(pageSize), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list tasks of %s: %w", q, err)
			}
			for _, t := range tasks {
				if t.Type != TypeUpsertBatch {
					continue
				}
				var p UpsertBatchPayload
				if err := json.Unmarshal(t.Payload, &p); err != nil {
					continue // not ours to judge: its jobs are re-created as before
				}
				for _, it := range p.Items {
					jobs[it.JobID] = true
				}
			}
			if len(tasks) < pageSize {
				break
			}
		}
	}
	return jobs, nil
}
