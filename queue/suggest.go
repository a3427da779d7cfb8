package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Duplicate-suggestion task types, on the "suggest" queue.
const (
	// TypeSuggestScan rescans a whole organization (POST
	// /api/v1/duplicates/scan); its task id is the job's id.
	TypeSuggestScan = "duplicates:scan"
	// TypeSuggestPending scores an organization's new and changed
	// customers (the suggest_pending table); one task per organization at
	// a time, so bursts of changes coalesce into batches.
	TypeSuggestPending = "duplicates:pending"
)

// SuggestPayload names the organization (and, for a scan, its job).
type SuggestPayload struct {
	OrgID string `json:"org_id"`
	JobID string `json:"job_id,omitempty"`
}

// EnqueueSuggestScan queues a scan under its job id (re-enqueueing a
// queued or running one is a no-op).
func (c *Client) EnqueueSuggestScan(ctx context.Context, p SuggestPayload) error {
	return c.enqueueSuggest(ctx, TypeSuggestScan, p.JobID, p, asynq.MaxRetry(3), asynq.Timeout(time.Hour))
}

// EnqueueSuggestPending queues the scoring of an organization's waiting
// customers unless a task for it is already queued or running.
func (c *Client) EnqueueSuggestPending(ctx context.Context, orgID string) error {
	return c.enqueueSuggest(ctx, TypeSuggestPending, "suggest:pending:"+orgID, SuggestPayload{OrgID: orgID},
		asynq.MaxRetry(3), asynq.Timeout(5*time.Minute))
}

func (c *Client) enqueueSuggest(ctx context.Context, typ, id string, p SuggestPayload, opts ...asynq.Option) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode %s task: %w", typ, err)
	}
	opts = append(opts, asynq.TaskID(id), asynq.Queue(c.names.Suggest()))
	if _, err := c.enqueue(ctx, typ, body, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s %s: %w", typ, id, err)
	}
	return nil
}
