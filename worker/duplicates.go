package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/queue"
)

// handleDuplicatesMerge runs a duplicates merge job. The store completes
// the job in the merges' transaction, so a redelivered task changes nothing.
func (d *Deps) handleDuplicatesMerge(ctx context.Context, t *asynq.Task) error {
	var p queue.DuplicatesMergePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
		return fmt.Errorf("decode duplicates merge payload: %v: %w", err, asynq.SkipRetry)
	}
	res, err := d.Store.RunDuplicateMerge(ctx, p.OrgID, p.JobID, p.IDs, p.Policy, p.CanonicalEmails)
	if err == nil {
		d.Log.InfoContext(ctx, "duplicates merged", "job_id", p.JobID, "merged", res.Merged, "skipped", res.Skipped)
		return nil
	}
	_, ferr := d.failJob(ctx, p.OrgID, p.JobID, err)
	return ferr
}

// requeueDuplicatesMerge re-creates a duplicates merge task from its job row.
func (d *Deps) requeueDuplicatesMerge(ctx context.Context, j *customer.Job) (bool, error) {
	var p queue.DuplicatesMergePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return false, fmt.Errorf("job %s payload: %w", j.ID, err)
	}
	p.JobID, p.OrgID = j.ID, j.OrganizationID
	return d.Client.EnqueueDuplicatesMerge(ctx, p)
}
