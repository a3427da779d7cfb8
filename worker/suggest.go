package worker

import (
	"cmp"
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

// DefaultSuggestScanBacklog is the backlog rule's floor: above it and above
// a quarter of the organization, one scan (~80 µs of CPU a customer at 1M)
// is cheaper than scoring the customers one by one (~0.8 ms each).
const DefaultSuggestScanBacklog = 50000

// backlogScanKey names the scan job of the backlog that starts at a
// pending row: one job per backlog, however often the poll asks.
func backlogScanKey(first int64) string { return fmt.Sprintf("linkit:suggest-backlog:%d", first) }

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
	var why struct{ Reason string }
	_ = json.Unmarshal(job.Payload, &why)
	// A backlog's scan stands in for the incremental scorer: its model.
	res, err := d.Store.ScanFuzzy(ctx, p.OrgID, postgres.FuzzyScanOptions{KeepModel: why.Reason == "backlog",
		Yield: d.ScanYield})
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
	d.Log.InfoContext(ctx, "duplicate scan", "org_id", p.OrgID, "job_id", p.JobID, "reason", cmp.Or(why.Reason, "request"),
		"customers", res.Customers, "candidate_pairs", res.CandidatePairs, "suggested", res.Suggested,
		"pending_cleared", res.PendingCleared, "seconds", res.Seconds, "yield_seconds", res.YieldSeconds)
	return d.Store.CompleteJob(ctx, p.OrgID, p.JobID, res)
}

// DefaultSuggestScanYield is how many times the time of its last long
// statement a duplicate scan waits, at most, while an API process is busy:
// beside steady interactive load a scan takes at most a tenth of a
// PostgreSQL core, and still finishes, up to ten times later. At 16
// clients searching on two cores, each 0.1 ms of CPU a search costs is
// ~0.8 ms of p50: a quarter of a core (3) still cost a search ~0.15 ms.
const DefaultSuggestScanYield = 9

// ScanYield makes a scan's next PostgreSQL statement wait while an API
// process is busy (queue.Activity), at most SuggestScanYield times spent:
// searches right after a large import, when its backlog's scan starts,
// waited behind its statements (issue 24). It waits in ticks, so a burst
// that ends lets the scan go on at once.
func (d *Deps) ScanYield(ctx context.Context, spent time.Duration) error {
	return d.yieldWhileBusy(ctx, cmp.Or(d.SuggestScanYield, DefaultSuggestScanYield), spent)
}

// yieldWhileBusy waits while an API process is busy, at most factor times
// spent (negative factor: not at all).
func (d *Deps) yieldWhileBusy(ctx context.Context, factor int, spent time.Duration) error {
	if d.Activity == nil || factor < 0 {
		return nil
	}
	until := time.Now().Add(time.Duration(factor) * spent)
	for d.Activity.Busy(ctx) {
		wait := min(queue.ActivityTick, time.Until(until))
		if wait <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil
}

// handleSuggestPending scores an organization's new and changed customers
// in batches until none wait or its time slice is used.
func (d *Deps) handleSuggestPending(ctx context.Context, t *asynq.Task) error {
	var p queue.SuggestPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.OrgID == "" {
		return fmt.Errorf("decode pending payload: %v: %w", err, asynq.SkipRetry)
	}
	if scanning, err := d.scanBacklog(ctx, p.OrgID); err != nil || scanning {
		return err
	}
	deadline := time.Now().Add(suggestSlice)
	var spent time.Duration
	// However it ends, the scoring just done earns the scorer a rest
	// while an API process is busy.
	defer func() { d.restAfterScoring(spent) }()
	for time.Now().Before(deadline) {
		start := time.Now()
		b, err := d.Store.ScoreSuggestPending(ctx, p.OrgID, suggestBatch, dedupe.DefaultMinScore)
		spent += time.Since(start)
		if err != nil {
			return err
		}
		if b.Busy || b.Customers == 0 {
			return nil
		}
		d.Log.DebugContext(ctx, "scored changed customers", "org_id", p.OrgID, "customers", b.Customers,
			"compared", b.Compared, "suggested", b.Suggested)
		if b.Customers < suggestBatch/2 {
			// What waited is scored: asking again costs a transaction
			// that finds nothing, at every poll under steady upserts;
			// the next poll takes what arrives meanwhile.
			return nil
		}
		// A backlog: the next batch waits as a scan's statement does.
		if err := d.ScanYield(ctx, time.Since(start)); err != nil {
			return err
		}
	}
	return nil
}

// restAfterScoring sets the scorer's rest after spent scoring:
// SuggestScanYield times it, during which a poll while an API process is
// busy leaves the pending customers waiting. Scoring a new customer costs
// about a millisecond of CPU, more than the upsert that created it: at 16
// checkout clients (half of them new customers) scoring every 20 ms took
// the cores the checkouts waited for, p99 33–46 ms against 17.7 with the
// scorer off (issue 24). Resting, the scorer takes at most a tenth of the
// time while the API is busy, in larger batches, and catches up when it is
// not; it never stops.
func (d *Deps) restAfterScoring(spent time.Duration) {
	factor := cmp.Or(d.SuggestScanYield, DefaultSuggestScanYield)
	if d.Activity == nil || factor < 0 || spent <= 0 {
		return
	}
	until := time.Now().Add(time.Duration(factor) * spent).UnixNano()
	for {
		cur := d.scoreRest.Load()
		if cur >= until || d.scoreRest.CompareAndSwap(cur, until) {
			return
		}
	}
}

// resting reports whether the scorer is in its rest while an API process
// is busy (Redis is asked only within the rest).
func (d *Deps) resting(ctx context.Context) bool {
	return time.Now().UnixNano() < d.scoreRest.Load() && d.Activity.Busy(ctx)
}

// scanBacklog queues one full scan of the organization, as a scan job (the
// rescan's: job row, retries, reconciler, log), when more customers wait
// than DefaultSuggestScanBacklog and a quarter of its customers; the scan
// clears the rows it covers. True while that scan is queued or running:
// the incremental scorer leaves the backlog to it. A backlog is named by
// its oldest row (the job's idempotency key), so redeliveries and every
// poll find the same job; a scan that failed for good leaves the backlog
// to the incremental scorer.
func (d *Deps) scanBacklog(ctx context.Context, orgID string) (bool, error) {
	floor := d.SuggestScanBacklog
	if floor <= 0 {
		floor = DefaultSuggestScanBacklog
	}
	// The job first: while a backlog's scan is queued or running every
	// poll lands here, and counting what waits reads every row's array.
	first, err := d.Store.SuggestOldest(ctx, orgID)
	if err != nil || first == 0 {
		return false, err
	}
	key := backlogScanKey(first)
	job, err := d.Store.FindJobByKey(ctx, orgID, key)
	if err != nil {
		return false, err
	}
	if job == nil {
		pending, err := d.Store.SuggestPending(ctx, orgID)
		if err != nil || pending <= floor {
			return false, err
		}
		customers, err := d.Store.CountLiveCustomers(ctx, orgID)
		if err != nil || pending <= customers/4 {
			return false, err
		}
		payload, _ := json.Marshal(map[string]any{"reason": "backlog", "pending": pending, "customers": customers})
		job, _, err = d.Store.CreateJob(ctx, &customer.Job{OrganizationID: orgID, Type: queue.TypeSuggestScan,
			Payload: payload, IdempotencyKey: key})
		if err != nil {
			return false, err
		}
		d.Log.InfoContext(ctx, "duplicate scan queued for a backlog", "org_id", orgID, "job_id", job.ID,
			"pending", pending, "customers", customers)
	}
	if job.Type != queue.TypeSuggestScan || job.State != customer.JobQueued {
		return false, nil
	}
	// Again at every poll: a no-op while its task exists, a new one if a
	// crash came between the job row and its task.
	return true, d.Client.EnqueueSuggestScan(ctx, queue.SuggestPayload{OrgID: orgID, JobID: job.ID})
}

// pollSuggestPending queues a pending task for each organization with
// customers waiting to be scored (a task id per organization: one at a
// time). Polling PostgreSQL rather than enqueueing from every write path
// keeps upserts and imports unaware of scoring, and loses nothing when
// Redis does. While the scorer rests (restAfterScoring), nothing is
// queued.
func (d *Deps) pollSuggestPending(ctx context.Context) error {
	if d.resting(ctx) {
		return nil
	}
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
