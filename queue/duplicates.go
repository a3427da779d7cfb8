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

// TypeDuplicatesMerge merges several reviewed pairs as one job (SPEC §10.2).
const TypeDuplicatesMerge = "duplicates:merge"

// DuplicatesMergePayload is a duplicates merge job; the job row holds the
// same payload, so a lost task is re-created from there.
type DuplicatesMergePayload struct {
	JobID           string        `json:"job_id"`
	OrgID           string        `json:"org_id"`
	IDs             []string      `json:"ids"`
	Policy          dedupe.Policy `json:"policy"`
	CanonicalEmails bool          `json:"canonical_emails,omitempty"`
}

// EnqueueDuplicatesMerge queues a duplicates merge on the default queue
// under its job id; it tells whether a task was created (false: it was
// already queued, running or retrying).
func (c *Client) EnqueueDuplicatesMerge(ctx context.Context, p DuplicatesMergePayload) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode duplicates merge task: %w", err)
	}
	opts := []asynq.Option{asynq.TaskID(p.JobID), asynq.Queue(c.names.Default()),
		asynq.MaxRetry(8), asynq.Timeout(2 * time.Minute)}
	if _, err := c.enqueue(ctx, TypeDuplicatesMerge, body, opts...); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return false, nil
		}
		return false, fmt.Errorf("enqueue duplicates merge %s: %w", p.JobID, err)
	}
	return true, nil
}
