package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// handleUpsertBatch applies a coalesced batch (queue.Coalescer) in one
// transaction and answers each request as handleUpsert would. Job rows
// decide what a retry or a duplicate delivery re-applies: jobs completed
// already answer their stored results.
func (d *Deps) handleUpsertBatch(ctx context.Context, t *asynq.Task) error {
	start := time.Now()
	var p queue.UpsertBatchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode upsert batch: %v: %w", err, asynq.SkipRetry)
	}
	items := make([]postgres.BatchItem, 0, len(p.Items))
	for _, it := range p.Items {
		if it.Request == nil {
			return fmt.Errorf("decode upsert batch: job %s has no request: %w", it.JobID, asynq.SkipRetry)
		}
		items = append(items, batchItem(it.JobID, it.Request, it.RequestHash, it.RawRequest))
	}
	d.Metrics.observeBatch(len(items))
	outs, err := d.Store.RunUpsertBatch(ctx, p.OrgID, items)
	if err != nil {
		// Nothing committed: the whole batch is retried, or, at the last
		// attempt, each of its jobs failed and answered.
		if retry, _ := retryable(ctx, err); retry {
			return err
		}
		for _, it := range items {
			_ = d.failed(ctx, p.OrgID, it, p.ReplyTo, err)
		}
		return fmt.Errorf("upsert batch of %d: %w: %w", len(items), err, asynq.SkipRetry)
	}
	took := time.Since(start) / time.Duration(len(items))
	replies := make(map[string][]byte, len(outs))
	var errs []error
	for i, o := range outs {
		jobID := p.Items[i].JobID
		switch {
		case o.Err == nil:
			body, err := o.Reply.MarshalPublished()
			if err != nil {
				errs = append(errs, fmt.Errorf("encode result of %s: %w", jobID, err))
				continue
			}
			d.Metrics.observeUpsert(o.Reply.Action, took)
			replies[jobID] = body
		case customer.ErrorCode(o.Err) == customer.EGONE:
			d.Log.InfoContext(ctx, "upsert of an erased job dropped", "job_id", jobID)
		case permanent(o.Err):
			msg, _ := d.failUpsertJob(ctx, p.OrgID, items[i], o.Err)
			if msg != nil {
				d.Metrics.observeUpsert("failed", 0)
				replies[jobID] = msg
			}
		default:
			// Not the request's fault as far as we know (its statements
			// failed): it goes on alone, with a single upsert's retries.
			d.Log.WarnContext(ctx, "upsert left out of its batch, queued alone", "job_id", jobID, "err", o.Err)
			it := p.Items[i]
			if err := d.Client.EnqueueUpsert(ctx, queue.UpsertPayload{JobID: jobID, OrgID: p.OrgID, ReplyTo: p.ReplyTo,
				Request: it.Request, RequestHash: it.RequestHash, RawRequest: it.RawRequest}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// The jobs are committed; a lost reply only makes its caller poll.
	if err := queue.PublishAll(ctx, d.Redis, p.ReplyTo, replies); err != nil {
		d.Log.WarnContext(ctx, "replies not delivered", "jobs", len(replies), "err", err)
	}
	// A job neither answered nor queued again is found by the reconciler.
	if err := errors.Join(errs...); err != nil {
		d.Log.ErrorContext(ctx, "upsert batch: some jobs left queued", "err", err)
	}
	return nil
}

// batchItem is a task's upsert for the store; a request hash means the
// API left the job row to the worker (queue.UpsertPayload.RequestHash),
// whose payload is the request's JSON as the task carried it.
func batchItem(jobID string, req *dedupe.Request, requestHash string, raw json.RawMessage) postgres.BatchItem {
	it := postgres.BatchItem{JobID: jobID, Request: req}
	if requestHash != "" {
		it.NewJob = &customer.Job{Type: queue.TypeUpsert, RequestHash: requestHash, Payload: raw}
	}
	return it
}

// permanent reports a domain error no retry changes (validation, a
// conflict, a missing location).
func permanent(err error) bool {
	var de *customer.Error
	return errors.As(err, &de) && de.Code != customer.EUNAVAILABLE && de.Code != customer.EINTERNAL
}
