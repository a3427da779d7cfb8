package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// handleImportRevert undoes an import (postgres.RunImportRevert): resumable
// batch by batch, so a retry or a duplicate task only does what is left.
func (d *Deps) handleImportRevert(ctx context.Context, t *asynq.Task) error {
	var p queue.RevertPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" || p.ImportID == "" {
		return fmt.Errorf("decode revert payload: %v: %w", err, asynq.SkipRetry)
	}
	// Its batches make way for busy API processes as an import's chunks do.
	yield := cmp.Or(d.ImportYield, DefaultImportYield)
	rv, err := d.Store.RunImportRevert(ctx, p.OrgID, p.JobID, p.ImportID, func(ctx context.Context, spent time.Duration) error {
		t := time.Now()
		err := d.yieldWhileBusy(ctx, yield, spent)
		d.Metrics.observeImportYield(time.Since(t))
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: the task goes back to the queue and resumes
		}
		_, ferr := d.failJob(ctx, p.OrgID, p.JobID, err)
		return ferr
	}
	if rv == nil {
		// Replaced by a later revert job of the import: this one ends, or
		// the reconciler would re-queue it for ever.
		msg, _ := json.Marshal(postgres.ErrorReply(&customer.Error{Code: customer.ECONFLICT, Message: "Replaced by a later revert job of the import"}))
		return d.Store.FailJob(ctx, p.OrgID, p.JobID, string(msg))
	}
	d.Log.InfoContext(ctx, "import reverted", "import_id", p.ImportID, "org_id", p.OrgID, "deleted", rv.Deleted,
		"restored", rv.Restored, "kept", rv.KeptCount)
	return nil
}

// requeueRevert re-creates a revert job's task from its row.
func (d *Deps) requeueRevert(ctx context.Context, j *customer.Job) (bool, error) {
	var rp postgres.RevertPayload
	if err := json.Unmarshal(j.Payload, &rp); err != nil {
		return false, fmt.Errorf("job %s payload: %w", j.ID, err)
	}
	return d.Client.EnqueueImportRevert(ctx, queue.RevertPayload{JobID: j.ID, OrgID: j.OrganizationID, ImportID: rp.ImportID})
}
