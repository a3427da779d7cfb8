package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/linkitworks/customers/client"
)

const baseRevertText = "import revert: the same run's import of the file (upload to completed), rows/s over its rows"

// revertImport undoes the suite's import (POST /imports/{id}/revert) and
// times its job from the request to completed, next to the import's own
// time in the same run (rows of the file per second, both).
func revertImport(ctx context.Context, cfg config, st *stack, rep *report, id string, importSecs float64, logf func(string, ...any)) error {
	logf("import: reverting %s", id)
	rep.Baselines = append(rep.Baselines, baseRevertText)
	resetPeakRSS()
	start := time.Now()
	accepted, err := client.OK(st.api.RevertImportWithResponse(ctx, id))
	if err != nil {
		return fmt.Errorf("revert import %s: %w", id, err)
	}
	if accepted.JSON202 == nil {
		return fmt.Errorf("revert import %s: status %d, want 202: %s", id, accepted.StatusCode(), trunc(string(accepted.Body), 300))
	}
	job := accepted.JSON202.Data
	for job.State != "completed" {
		if job.State == "failed" {
			return fmt.Errorf("revert job %s failed: %s", job.Id, job.Error)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		got, err := client.OK(st.api.GetJobWithResponse(ctx, job.Id))
		if err != nil {
			return fmt.Errorf("revert job %s: %w", job.Id, err)
		}
		if got.JSON200 == nil {
			return fmt.Errorf("revert job %s: unreadable answer: %s", job.Id, trunc(string(got.Body), 300))
		}
		job = got.JSON200.Data
	}
	secs := time.Since(start).Seconds()
	peak := peakRSSMB()
	var res struct {
		Deleted, Restored, KeptCount int
	}
	var raw map[string]any
	_ = json.Unmarshal(job.Result, &raw)
	res.Deleted, res.Restored = intOf(raw["deleted"]), intOf(raw["restored"])
	res.KeptCount = intOf(raw["kept_count"])
	api := stats{Requests: cfg.importRows, RPS: float64(cfg.importRows) / secs, P50: secs * 1000}
	base := stats{Requests: cfg.importRows, RPS: float64(cfg.importRows) / importSecs, P50: importSecs * 1000}
	r := newRow("import", "revert that import (rows/s of the file; p50 = total ms)", 1, api, base)
	r.Target = &target{Text: "no slower than the import and peak RSS < 256 MB", Pass: r.Ratio.RPS >= 1 && peak < 256}
	rep.Rows = append(rep.Rows, r)
	rep.Notes = append(rep.Notes, fmt.Sprintf("import revert: %.1f s (the import %.1f s): %d customers deleted, %d restored, "+
		"%d kept; peak RSS of the server+worker process during the revert %.0f MB",
		secs, importSecs, res.Deleted, res.Restored, res.KeptCount, peak))
	logf("import: %s", r.brief())
	return nil
}

func intOf(v any) int { f, _ := v.(float64); return int(f) }
