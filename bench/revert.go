package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
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
	var job struct {
		Data struct {
			ID     string          `json:"id"`
			State  string          `json:"state"`
			Result json.RawMessage `json:"result"`
			Error  any             `json:"error"`
		} `json:"data"`
	}
	if err := st.call(ctx, "POST", "/api/v1/imports/"+id+"/revert", http.StatusAccepted, &job); err != nil {
		return err
	}
	jobID := job.Data.ID
	for job.Data.State != "completed" {
		if job.Data.State == "failed" {
			return fmt.Errorf("revert job %s failed: %v", jobID, job.Data.Error)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if err := st.call(ctx, "GET", "/api/v1/jobs/"+jobID, http.StatusOK, &job); err != nil {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	peak := peakRSSMB()
	var res struct {
		Deleted, Restored, KeptCount int
	}
	var raw map[string]any
	_ = json.Unmarshal(job.Data.Result, &raw)
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

// call sends one API request as the benchmark's organization and decodes
// the answer into out.
func (s *stack) call(ctx context.Context, method, path string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.baseURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	res, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, trunc(string(raw), 300))
	}
	return json.Unmarshal(raw, out)
}
