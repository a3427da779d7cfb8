package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// suggestBatch is how many waiting customers one transaction scores, and
// suggestSlice how long one pending task works before handing the queue
// back (the next poll queues the rest).
const (
	suggestBatch = 500
	suggestSlice = 20 * time.Second
)

// handleSuggestScan rescans an organization for fuzzy duplicates (a job).
func (d *Deps) handleSuggestScan(ctx context.Context, t *asynq.Task) error {
	var p queue.SuggestPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.OrgID == "" || p.JobID == "" {
		return fmt.Errorf("decode scan payload: %v: %w", err, asynq.SkipRetry)
	}
	job, err := d.Store.FindJob(ctx, p.OrgID, p.JobID)
	if err != nil {
		return err
	}
	if job.State != customer.JobQueued {
		return nil // a redelivered task of a finished scan
	}
	res, err := d.Store.ScanFuzzy(ctx, p.OrgID, postgres.FuzzyScanOptions{})
	if err != nil {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if retried < maxRetry {
			return err
		}
		msg, _ := json.Marshal(postgres.ErrorReply(&customer.Error{Code: customer.EINTERNAL, Message: "Internal error"}))
		if ferr := d.Store.FailJob(context.WithoutCancel(ctx), p.OrgID, p.JobID, string(msg)); ferr != nil {
			return fmt.Errorf("mark scan %s failed: %w (after %v)", p.JobID, ferr, err)
		}
		return fmt.Errorf("scan %s failed: %w: %w", p.JobID, err, asynq.SkipRetry)
	}
	d.Log.InfoContext(ctx, "duplicate scan", "org_id", p.OrgID, "job_id", p.JobID, "customers", res.Customers,
		"candidate_pairs", res.CandidatePairs, "suggested", res.Suggested, "seconds", res.Seconds)
	return d.Store.CompleteJob(ctx, p.OrgID, p.JobID, res)
}

// handleSuggestPending scores an organization's new and changed customers
// in batches until none wait or its time slice is used.
func (d *Deps) handleSuggestPending(ctx context.Context, t *asynq.Task) error {
	var p queue.SuggestPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.OrgID == "" {
		return fmt.Errorf("decode pending payload: %v: %w", err, asynq.SkipRetry)
	}
	deadline := time.Now().Add(suggestSlice)
	for time.Now().Before(deadline) {
		b, err := d.Store.ScoreSuggestPending(ctx, p.OrgID, suggestBatch, dedupe.DefaultMinScore)
		if err != nil {
			return err
		}
		if b.Busy || b.Customers == 0 {
			return nil
		}
		d.Log.DebugContext(ctx, "scored changed customers", "org_id", p.OrgID, "customers", b.Customers,
			"compared", b.Compared, "suggested", b.Suggested)
	}
	return nil
}

// pollSuggestPending queues a pending task for each organization with
// customers waiting to be scored (a task id per organization: one at a
// time). Polling PostgreSQL rather than enqueueing from every write path
// keeps upserts and imports unaware of scoring, and loses nothing when
// Redis does.
func (d *Deps) pollSuggestPending(ctx context.Context) error {
	orgs, err := d.Store.SuggestPendingOrgs(ctx, 100)
	if err != nil {
		return err
	}
	for _, org := range orgs {
		if err := d.Client.EnqueueSuggestPending(ctx, org); err != nil {
			return err
		}
	}
	return nil
}
