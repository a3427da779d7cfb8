package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
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
	// Domain errors never get better with retries; others do until the last.
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
	if ferr := d.Store.FailJob(context.WithoutCancel(ctx), p.OrgID, p.JobID, string(msg)); ferr != nil {
		return fmt.Errorf("mark job %s failed: %w (after %v)", p.JobID, ferr, err)
	}
	return fmt.Errorf("job %s failed: %w: %w", p.JobID, err, asynq.SkipRetry)
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
