package api

import (
	"encoding/json"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/importer"
	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/queue"
)

// handleImportRevert starts undoing an import (SPEC §10.3): 202 with its
// job. Repeating the request answers 202 with the same job (a failed job
// is replaced by a new one that resumes where it stopped).
func (s *Server) handleImportRevert(w http.ResponseWriter, r *http.Request) error {
	if s.Queue == nil {
		return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Queue unavailable, try again"}
	}
	ctx := r.Context()
	o := org(r)
	job, created, err := s.store.StartImportRevert(ctx, o.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if created || job.State == customer.JobQueued {
		// The job row is committed: a task lost here is re-created by the
		// workers' reconciler from it.
		if _, err := s.Queue.EnqueueImportRevert(ctx, queue.RevertPayload{JobID: job.ID, OrgID: o.ID, ImportID: r.PathValue("id")}); err != nil {
			s.log.WarnContext(ctx, "revert task not queued: the reconciler will", "job_id", job.ID, "err", err)
		}
	}
	w.Header().Set("Location", "/api/v1/jobs/"+job.ID)
	writeData(w, http.StatusAccepted, revertJobView(job))
	return nil
}

// revertJobView shows a revert job: its result is the import's revert
// outcome (customer.ImportRevert).
func revertJobView(job *customer.Job) jobView {
	view := jobView{Job: job}
	if len(job.Result) > 0 {
		view.Result = json.RawMessage(job.Result)
	}
	if job.State == customer.JobFailed {
		var e any
		if json.Unmarshal([]byte(job.Error), &e) != nil {
			e = job.Error
		}
		view.Error = e
	}
	return view
}

// queueState tells running and retrying apart from queued, which only the
// queue knows.
func (s *Server) queueState(job *customer.Job, queueName string) {
	if job.State != customer.JobQueued || s.Inspector == nil {
		return
	}
	if info, err := s.Inspector.GetTaskInfo(queueName, job.ID); err == nil {
		switch info.State {
		case asynq.TaskStateActive:
			job.State = customer.JobRunning
		case asynq.TaskStateRetry:
			job.State = customer.JobRetrying
		}
	}
}

// retryView is an import after a retry was accepted, with what the retry
// file did: rows retried, still in error, and lines not retried (rows
// that were not in error in this import, or named none).
type retryView struct {
	*customer.Import
	Retry retrySummary `json:"retry"`
}

type retrySummary struct {
	Retried  int                      `json:"retried"`
	Valid    int                      `json:"valid"`
	Invalid  int                      `json:"invalid"`
	Rejected []importer.RetryRejected `json:"rejected"`
}

// handleImportRetry takes the corrected error report of a completed
// import (multipart or raw, like POST /imports) and processes just those
// rows in the same import (SPEC §10.3): 202 with the import, back in
// processing while the rows merge.
func (s *Server) handleImportRetry(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	o := org(r)
	id := r.PathValue("id")
	im, err := s.store.FindImport(ctx, o.ID, id)
	if err != nil {
		return err
	}
	// Any format: the report is CSV whatever the upload was (a JSON
	// import's holds each row's object, read back as the import's rows).
	// Order imports are not retried: see docs/decisions.md.
	if im.Kind != customer.ImportCustomers {
		return &customer.Error{Code: customer.ECONFLICT, Details: map[string]string{"status": string(im.Status), "kind": string(im.Kind)},
			Message: "An order import cannot be retried: correct the rows of its error report and import them as a new order import"}
	}
	if im.Status != customer.ImportCompleted {
		return &customer.Error{Code: customer.ECONFLICT, Details: map[string]string{"status": string(im.Status)},
			Message: "Only a completed import can be retried (this one is " + string(im.Status) + ")"}
	}
	if s.Queue == nil {
		return &customer.Error{Code: customer.EUNAVAILABLE, Message: "Queue unavailable, try again"}
	}
	release, err := s.acquireUpload(w, o.ID)
	if err != nil {
		return err
	}
	defer release()
	up, err := s.readUpload(w, r)
	if err != nil {
		return err
	}
	defer up.closer()
	errorRows, err := s.store.ImportErrorRows(ctx, o.ID, id)
	if err != nil {
		return err
	}
	var locRegion string
	if im.Options.LocationID != "" {
		// A location deleted since reads phones in the other regions.
		locRegion, _ = s.store.FindLocationRegion(ctx, o.ID, im.Options.LocationID)
	}
	read := importer.ReadRetry
	headers := im.Headers
	if im.Format == string(importer.FormatJSON) || im.Format == string(importer.FormatNDJSON) {
		// The report holds each row's JSON object (writeErrorCSV).
		read, headers = importer.ReadRetryOriginals, []string{"original"}
	}
	rt, err := read(importer.Upload{OrgID: o.ID, File: up.file, FileName: up.fileName, Options: im.Options,
		Regions: []string{im.Options.DefaultRegion, locRegion, o.DefaultRegion}, Read: s.cfg.readerOptions(up.format)},
		s.phones, errorColumn(headers), errorRows)
	if err != nil {
		return err
	}
	sum := retrySummary{Retried: len(rt.Retried), Valid: len(rt.Rows), Invalid: rt.Invalid, Rejected: rt.Rejected}
	if sum.Rejected == nil {
		sum.Rejected = []importer.RetryRejected{}
	}
	if len(rt.Retried) > 0 {
		chunk, err := s.store.RetryImport(ctx, o.ID, id, &postgres.ImportRetry{Rows: rt.Rows, Problems: rt.Problems,
			Retried: rt.Retried, Invalid: rt.Invalid, Warnings: rt.Warnings})
		if err != nil {
			return err
		}
		if chunk >= 0 {
			if err := s.Queue.EnqueueImportChunk(ctx, queue.ImportPayload{OrgID: o.ID, ImportID: id, Chunk: chunk}); err != nil {
				// The import is processing: the reconciler re-plans it.
				s.log.WarnContext(ctx, "retry chunk not queued: the reconciler will", "import_id", id, "err", err)
			}
		}
	}
	if im, err = s.store.FindImport(ctx, o.ID, id); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/imports/"+id)
	writeData(w, http.StatusAccepted, retryView{Import: im, Retry: sum})
	return nil
}
