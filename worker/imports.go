package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

func decodeImport(t *asynq.Task) (queue.ImportPayload, error) {
	var p queue.ImportPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ImportID == "" {
		return p, fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return p, nil
}

// handleImportPlan groups a staged import into chunks (once) and queues
// the chunks not merged yet. The reconciler re-runs it for stalled imports,
// which re-derives chunk tasks lost with Redis.
func (d *Deps) handleImportPlan(ctx context.Context, t *asynq.Task) error {
	p, err := decodeImport(t)
	if err != nil {
		return err
	}
	chunks, err := d.Store.PlanImport(ctx, p.OrgID, p.ImportID)
	if err != nil {
		return d.importFailed(ctx, p, err)
	}
	if len(chunks) == 0 {
		return d.Store.CompleteEmptyImport(ctx, p.OrgID, p.ImportID)
	}
	if err := d.queueChunks(ctx, p.OrgID, p.ImportID); err != nil {
		return err
	}
	return d.Store.TouchImport(ctx, p.OrgID, p.ImportID)
}

// queueChunks queues an import's first chunks not merged yet, at most
// chunkWindow of them; each merged chunk queues the next ones the same way
// (handleImportChunk). The imports queue is first in, first out: with all
// of a large import's chunks queued at once, another organization's import
// queued after it waited for every one of them (250 chunks, minutes, for
// a 1M-row file); with a window it waits for a few, and imports of
// different organizations take turns. A chunk still queued or running
// keeps its one task (the task id is the chunk's).
func (d *Deps) queueChunks(ctx context.Context, orgID, importID string) error {
	pending, err := d.Store.PendingChunks(ctx, orgID, importID)
	if err != nil {
		return err
	}
	for _, c := range pending[:min(len(pending), d.chunkWindow())] {
		if err := d.Client.EnqueueImportChunk(ctx, queue.ImportPayload{OrgID: orgID, ImportID: importID, Chunk: c}); err != nil {
			return err
		}
	}
	return nil
}

// chunkWindow is how many of an import's chunks are queued at once:
// enough for an import alone to keep several worker processes' import
// slots busy (Deps.ImportWindow), few enough that another organization's
// import waits seconds, not minutes.
func (d *Deps) chunkWindow() int {
	if d.ImportWindow > 0 {
		return d.ImportWindow
	}
	return 8
}

// DefaultImportYield is how many times its chunk's time an import's slot
// waits, at most, after the chunk while an API process is busy: an import
// then takes at most half of its slots' time, so the cores it leaves serve
// the requests of every organization (issue 24: searches beside a 1M-row
// import of another organization). With the API quiet it waits not at all.
const DefaultImportYield = 1

// handleImportChunk merges one chunk; a chunk already merged is a no-op.
func (d *Deps) handleImportChunk(ctx context.Context, t *asynq.Task) error {
	p, err := decodeImport(t)
	if err != nil {
		return err
	}
	start := time.Now()
	yield := cmp.Or(d.ImportYield, DefaultImportYield)
	busy := yield >= 0 && d.Activity != nil && d.Activity.Busy(ctx)
	out, err := d.Store.RunImportChunk(ctx, p.OrgID, p.ImportID, p.Chunk, postgres.ChunkOptions{Interactive: busy})
	if err != nil {
		return d.importFailed(ctx, p, err)
	}
	if !out.Skipped {
		d.Metrics.observeChunk(out.Counts.Processed, time.Since(start), busy)
	}
	if out.Status == customer.ImportProcessing {
		// The next chunks (also after a duplicate delivery: a retry of
		// this task whose queueing failed gets here again).
		if err := d.queueChunks(ctx, p.OrgID, p.ImportID); err != nil {
			return err
		}
		if !out.Skipped {
			// The chunk is merged: a shutdown meanwhile loses nothing.
			t := time.Now()
			_ = d.yieldWhileBusy(ctx, yield, t.Sub(start))
			d.Metrics.observeImportYield(time.Since(t))
		}
	}
	if out.Status == customer.ImportCompleted && !out.Skipped {
		d.Log.InfoContext(ctx, "import completed", "import_id", p.ImportID, "org_id", p.OrgID)
		if err := d.Store.FlushSearchIndex(ctx); err != nil {
			d.Log.WarnContext(ctx, "flush search index", "err", err)
		}
		start := time.Now()
		if settled, err := d.Store.SettleImportedCustomers(ctx, p.OrgID, p.ImportID); err != nil {
			d.Log.WarnContext(ctx, "analyze customers after import", "import_id", p.ImportID, "err", err)
		} else if settled {
			d.Log.InfoContext(ctx, "analyzed customers after import", "import_id", p.ImportID,
				"seconds", time.Since(start).Seconds())
		}
	}
	return nil
}

// importFailed retries transient failures; a permanent one (or the last
// attempt) fails the whole import with a readable reason.
func (d *Deps) importFailed(ctx context.Context, p queue.ImportPayload, err error) error {
	retry, de := retryable(ctx, err)
	if retry {
		return err
	}
	reason := "internal error while merging"
	if de != nil {
		reason = de.Message
	}
	if ferr := d.Store.FailImport(context.WithoutCancel(ctx), p.OrgID, p.ImportID, reason); ferr != nil {
		return fmt.Errorf("fail import %s: %w (after %v)", p.ImportID, ferr, err)
	}
	return fmt.Errorf("import %s failed: %w: %w", p.ImportID, err, asynq.SkipRetry)
}

// replanned counts the imports reconcileImports re-planned, by cause.
type replanned struct {
	lost int // Redis held none of their tasks
	idle int // no progress for long, tasks or not
}

// reconcileImports re-plans processing imports without progress for check
// whose tasks Redis lost (a restart, a flush, a failover), and those
// without progress for idle whatever Redis holds; re-planning only queues
// what is missing. An import it cannot handle does not stop the others.
func (d *Deps) reconcileImports(ctx context.Context, check, idle time.Duration) (replanned, error) {
	var r replanned
	now := time.Now()
	stalled, err := d.Store.StalledImports(ctx, now.Add(-check))
	if err != nil {
		return r, err
	}
	var errs []error
	for _, s := range stalled {
		idleFor := now.Sub(s.Updated) >= idle
		if !idleFor {
			pending, err := d.Store.PendingChunks(ctx, s.OrgID, s.ID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			lost, err := queue.ImportTasksLost(ctx, d.Redis, d.Client.Names(), s.ID, pending)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !lost {
				continue
			}
		}
		if err := d.Client.EnqueueImportPlan(ctx, queue.ImportPayload{OrgID: s.OrgID, ImportID: s.ID}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := d.Store.TouchImport(ctx, s.OrgID, s.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		if idleFor {
			r.idle++
		} else {
			r.lost++
		}
	}
	return r, errors.Join(errs...)
}
